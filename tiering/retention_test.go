package tiering

import (
	"context"
	"errors"
	"testing"

	"github.com/kafki/kafki/tiering/cleanup"
	"github.com/kafki/kafki/tiering/fetch"
)

func TestRetention(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t, newStore(t, kind, nil), nil, smallReader)
			segs := e.writeSegments(5, 10, 3, 100)
			e.uploadAll(segs, 1)
			size := func(i int) int64 { return int64(len(segs[i].Log)) }
			var total int64
			for i := range segs {
				total += size(i)
			}
			unlimited := cleanup.Policy{RetentionMs: -1, RetentionBytes: -1}
			if res, err := e.tier.ApplyRetention(ctx, tp, 1, unlimited, 0); err != nil || len(res.Deleted) != 0 || res.LogStartOffset != 0 {
				t.Fatalf("unlimited retention: %+v %v", res, err)
			}

			// retention.bytes counts local bytes too; deletion stops while
			// the total still holds at least retention.bytes: exactly the
			// two oldest segments go.
			local := int64(500)
			policy := cleanup.Policy{RetentionMs: -1, RetentionBytes: total + local - size(0) - size(1)}
			res, err := e.tier.ApplyRetention(ctx, tp, 1, policy, local)
			if err != nil || len(res.Deleted) != 2 || res.LogStartOffset != segs[2].Headers[0].BaseOffset {
				t.Fatalf("bytes retention: deleted %d, start %d, %v", len(res.Deleted), res.LogStartOffset, err)
			}
			if _, err := e.tier.ReadRemote(ctx, tp, segs[1].Next-1, 1000); !errors.Is(err, fetch.ErrOffsetOutOfRange) {
				t.Fatalf("read below the new start: %v", err)
			}
			if _, err := e.tier.ReadRemote(ctx, tp, res.LogStartOffset, 1000); err != nil {
				t.Fatalf("read at the new start: %v", err)
			}

			// retention.ms: segment 2's records are older than segment 3's
			// first; a cutoff between them deletes exactly segment 2.
			nowMs := e.clock.now().UnixMilli()
			policy = cleanup.Policy{RetentionMs: nowMs - segs[2].MaxTimestamp - 1, RetentionBytes: -1}
			res, err = e.tier.ApplyRetention(ctx, tp, 1, policy, 0)
			if err != nil || len(res.Deleted) != 1 || res.Deleted[0].BaseOffset != segs[2].Headers[0].BaseOffset {
				t.Fatalf("time retention: %+v %v", res, err)
			}
			if n := len(e.objects()); n != 10 {
				t.Fatalf("%d objects, want the 2 remaining segments' 10", n)
			}
			if start, end, ok, err := e.tier.RemoteBounds(ctx, tp); err != nil || !ok || start != segs[3].Headers[0].BaseOffset || end != segs[4].Next {
				t.Fatalf("bounds %d %d %v %v", start, end, ok, err)
			}

			// A deposed leader's retention deletes nothing.
			if _, err := e.tier.Sweep(ctx, tp, 2); err != nil { // new leader fences
				t.Fatal(err)
			}
			res, err = e.tier.ApplyRetention(ctx, tp, 1, cleanup.Policy{RetentionMs: 0, RetentionBytes: 0}, 0)
			if err == nil || len(res.Deleted) != 0 || len(e.finished()) != 2 {
				t.Fatalf("stale retention: %+v %v", res, err)
			}
		})
	}
}
