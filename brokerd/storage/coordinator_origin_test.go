package storage

import (
	"errors"
	"testing"

	"github.com/kafki/kafki/brokerd/batch"
)

// The group coordinator's transactional batches (AppendOptions.Coordinator)
// carry no sequence: each is appended, none taken for a duplicate of the
// one before, while a fenced epoch is still refused and the transaction
// pins the last stable offset like a client's.
func TestCoordinatorOriginBatches(t *testing.T) {
	l := mustOpen(t, t.TempDir(), testOptions(newClock(), nil, nil))
	defer l.Close()
	coord := AppendOptions{Coordinator: true}
	for i := 0; i < 3; i++ {
		r, err := l.Append(txnBatch(7, 2, -1, 1), coord)
		if err != nil || r.Duplicate || r.BaseOffset != int64(i) {
			t.Fatalf("batch %d: %+v %v", i, r, err)
		}
	}
	if got := l.FirstUnstableOffset(); got != 0 {
		t.Fatalf("first unstable %d, want 0", got)
	}
	// Without the option the same batch is a client's retry.
	if r, err := l.Append(txnBatch(7, 2, -1, 1), AppendOptions{}); err != nil || !r.Duplicate {
		t.Fatalf("client-origin repeat: %+v %v, want a duplicate", r, err)
	}
	if _, err := l.Append(marker(7, 3, batch.ControlAbort), AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(txnBatch(7, 2, -1, 1), coord); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("fenced epoch: %v, want ErrInvalidProducerEpoch", err)
	}
	if got, end := l.FirstUnstableOffset(), l.LogEndOffset(); got != end {
		t.Fatalf("first unstable %d after the abort, want the end %d", got, end)
	}
}
