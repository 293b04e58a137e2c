package loadtest

import (
	"testing"
	"time"
)

// A record-count run without a warm-up sends exactly --records: every
// record is measured from the first one, none slips in "before" the
// measured period (TestLoadtestOverTLS saw 2,001 records stored for
// --records=2000 when a producer took its first record before measure
// had started).
func TestBudgetWithoutWarmupSendsExactlyRecords(t *testing.T) {
	b := newSendBudget(3, 0)
	for i := range 3 {
		if ok, measured := b.take(); !ok || !measured {
			t.Fatalf("take %d: ok %v measured %v, want true true", i, ok, measured)
		}
	}
	if ok, _ := b.take(); ok {
		t.Fatal("a fourth record was allowed by a budget of 3")
	}
	select {
	case <-b.exhausted:
	default:
		t.Fatal("budget not marked exhausted")
	}
}

// With a warm-up, records before measuring starts are not counted against
// the budget.
func TestBudgetWarmupRecordsAreUnmeasured(t *testing.T) {
	b := newSendBudget(1, time.Second)
	if ok, measured := b.take(); !ok || measured {
		t.Fatalf("warm-up take: ok %v measured %v, want true false", ok, measured)
	}
	b.measuring.Store(true)
	if ok, measured := b.take(); !ok || !measured {
		t.Fatalf("measured take: ok %v measured %v", ok, measured)
	}
	if ok, _ := b.take(); ok {
		t.Fatal("budget of 1 allowed a second measured record")
	}
}
