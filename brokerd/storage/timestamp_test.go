package storage

import (
	"testing"

	"github.com/kafki/kafki/brokerd/batch"
)

// rec is one record of the reference model: offset and timestamp.
type rec struct{ off, ts int64 }

func TestOffsetForTimestamp(t *testing.T) {
	for _, interval := range []int{1, 256, 1 << 20} {
		o := testOptions(newClock(), nil, nil)
		o.Config.IndexIntervalBytes = interval
		l := mustOpen(t, t.TempDir(), o)
		var all []rec
		// Timestamps rise overall but jump back inside and across
		// batches, as producers with skewed clocks do.
		ts := int64(1000)
		for i := 0; i < 120; i++ {
			n := 1 + i%4
			base := ts
			if i%5 == 3 {
				base -= 50 // an older batch
			}
			r := mustAppend(t, l, makeBatch(spec{records: n, value: 60, ts: base, tsStep: 7, pid: -1, seq: -1}), AppendOptions{})
			for k := 0; k < n; k++ {
				all = append(all, rec{r.BaseOffset + int64(k), base + int64(k)*7})
			}
			ts += 10
		}
		for target := int64(900); target <= ts+50; target += 3 {
			wantOff, wantTs := int64(-1), int64(-1)
			for _, r := range all {
				if r.ts >= target {
					wantOff, wantTs = r.off, r.ts
					break
				}
			}
			off, got, ok, err := l.OffsetForTimestamp(target)
			if err != nil {
				t.Fatal(err)
			}
			if ok != (wantOff >= 0) || off != wantOff || got != wantTs {
				t.Fatalf("interval %d: OffsetForTimestamp(%d) = %d,%d,%v; want %d,%d", interval, target, off, got, ok, wantOff, wantTs)
			}
		}
		var maxR rec = rec{-1, -1}
		for _, r := range all {
			if r.ts > maxR.ts {
				maxR = r
			}
		}
		off, got, ok, err := l.MaxTimestamp()
		if err != nil || !ok || off != maxR.off || got != maxR.ts {
			t.Fatalf("MaxTimestamp = %d,%d,%v,%v; want %+v", off, got, ok, err, maxR)
		}
		// Sealed segments reload their largest timestamp from disk.
		dir := l.dir
		l.Close()
		l = mustOpen(t, dir, o)
		if off2, got2, ok2, err := l.MaxTimestamp(); err != nil || !ok2 || off2 != off || got2 != got {
			t.Fatalf("MaxTimestamp after reopen = %d,%d,%v,%v; want %d,%d", off2, got2, ok2, err, off, got)
		}
		l.Close()
	}
}

func TestTimestampsOfEmptyLog(t *testing.T) {
	l := mustOpen(t, t.TempDir(), testOptions(newClock(), nil, nil))
	defer l.Close()
	if _, _, ok, err := l.MaxTimestamp(); ok || err != nil {
		t.Fatalf("MaxTimestamp of empty log: %v %v", ok, err)
	}
	if _, _, ok, err := l.OffsetForTimestamp(0); ok || err != nil {
		t.Fatalf("OffsetForTimestamp of empty log: %v %v", ok, err)
	}
}

func TestOffsetForTimestampCompressed(t *testing.T) {
	for _, c := range []batch.Compression{batch.CompressionGzip, batch.CompressionSnappy, batch.CompressionLZ4, batch.CompressionZstd} {
		t.Run(c.String(), func(t *testing.T) {
			l := mustOpen(t, t.TempDir(), testOptions(newClock(), nil, nil))
			defer l.Close()
			mustAppend(t, l, makeBatch(plain(3, 10, 100)), AppendOptions{}) // offsets 0..2 at 100
			recs := []batch.Record{{TimestampDelta: 0}, {TimestampDelta: 30}, {TimestampDelta: 10}, {TimestampDelta: 50}}
			for i := range recs {
				recs[i].Value = []byte("value")
			}
			mustAppend(t, l, batch.Build(recs, batch.BuildOptions{BaseTimestamp: 1000, Compression: c}), AppendOptions{})
			// Records 3..6 at 1000, 1030, 1010, 1050.
			for _, tc := range []struct{ target, off, ts int64 }{
				{1000, 3, 1000}, {1001, 4, 1030}, {1030, 4, 1030}, {1031, 6, 1050},
			} {
				off, ts, ok, err := l.OffsetForTimestamp(tc.target)
				if err != nil || !ok || off != tc.off || ts != tc.ts {
					t.Fatalf("OffsetForTimestamp(%d) = %d,%d,%v,%v; want %d,%d", tc.target, off, ts, ok, err, tc.off, tc.ts)
				}
			}
			if off, ts, ok, err := l.MaxTimestamp(); err != nil || !ok || off != 6 || ts != 1050 {
				t.Fatalf("MaxTimestamp = %d,%d,%v,%v", off, ts, ok, err)
			}
		})
	}
}
