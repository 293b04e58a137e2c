package storage

import (
	"testing"
)

// naiveOffsetForTimestamp is the reference: scan every record.
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
