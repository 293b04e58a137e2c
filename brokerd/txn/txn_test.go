package txn

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

const (
	pid     int64 = 1000
	timeout int32 = 60000
)

func ids(next ...int64) func() (int64, error) {
	return func() (int64, error) {
		if len(next) == 0 {
			return 0, errors.New("no producer id left")
		}
		id := next[0]
		next = next[1:]
		return id, nil
	}
}

// must is v, or a panic (failing the test) on an unexpected error.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func wantErr(t *testing.T, err error, want *kerr.Error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err %v, want %s", err, want.Message)
	}
}

func parts(ps ...string) []Partition {
	var out []Partition
	for i, p := range ps {
		out = append(out, Partition{Topic: p, Partition: int32(i % 2)})
	}
	return out
}

// initialized is a producer at epoch 0 with no transaction.
func initialized(t *testing.T) Metadata {
	t.Helper()
	in := must(NewMetadata("app", pid, timeout, 1).InitProducerID(timeout, NoProducerID, NoEpoch, ids(), 2))
	if in.Aborting || in.Next.Epoch != 0 || in.Next.State != Empty || in.Next.ProducerID != pid {
		t.Fatalf("first InitProducerID: %+v", in)
	}
	return in.Next
}

// InitProducerID bumps the epoch; a retry of a bump (KIP-360: the
// expected epoch is the one before it) gets the same epoch; anything
// older, or another producer id, is fenced.
func TestInitProducerIDEpochs(t *testing.T) {
	m := initialized(t)
	m = must(m.InitProducerID(timeout, NoProducerID, NoEpoch, ids(), 3)).Next
	if m.Epoch != 1 || m.LastEpoch != NoEpoch {
		t.Fatalf("epoch %d last %d, want 1, none", m.Epoch, m.LastEpoch)
	}
	m = must(m.InitProducerID(timeout, pid, 1, ids(), 4)).Next
	if m.Epoch != 2 || m.LastEpoch != 1 {
		t.Fatalf("epoch %d last %d, want 2, 1", m.Epoch, m.LastEpoch)
	}
	retry := must(m.InitProducerID(timeout, pid, 1, ids(), 5)).Next
	if retry.Epoch != 2 || retry.ProducerID != pid {
		t.Fatalf("retry of the bump: producer %d epoch %d, want %d epoch 2", retry.ProducerID, retry.Epoch, pid)
	}
	_, err := m.InitProducerID(timeout, pid, 0, ids(), 6)
	wantErr(t, err, kerr.ProducerFenced)
	_, err = m.InitProducerID(timeout, pid+1, 2, ids(), 6)
	wantErr(t, err, kerr.ProducerFenced)
}

// An exhausted epoch moves the transactional id to a new producer id at
// epoch 0; the previous id at the exhausted epoch is a retry, not a
// zombie.
func TestInitProducerIDRotatesAnExhaustedEpoch(t *testing.T) {
	m := initialized(t)
	m.Epoch = math.MaxInt16 - 1
	next := must(m.InitProducerID(timeout, pid, m.Epoch, ids(2000), 3)).Next
	if next.ProducerID != 2000 || next.Epoch != 0 || next.PrevProducerID != pid || next.LastEpoch != m.Epoch {
		t.Fatalf("rotation: %+v", next)
	}
	retry := must(next.InitProducerID(timeout, pid, m.Epoch, ids(), 4)).Next
	if retry.ProducerID != 2000 || retry.Epoch != 0 {
		t.Fatalf("retry of the rotation: producer %d epoch %d, want 2000 epoch 0", retry.ProducerID, retry.Epoch)
	}
	if _, err := m.InitProducerID(timeout, NoProducerID, NoEpoch, ids(), 3); err == nil {
		t.Fatal("rotation without a producer id to give succeeded")
	}
}

// The transaction's life under transaction version 0/1.
func TestTransactionV1(t *testing.T) {
	m := initialized(t)
	_, _, err := m.AddPartitions(pid+1, 0, parts("a"), 10)
	wantErr(t, err, kerr.InvalidProducerIDMapping)
	_, _, err = m.AddPartitions(pid, 1, parts("a"), 10)
	wantErr(t, err, kerr.ProducerFenced)
	_, err = m.EndTxn(pid, 0, true, 1, ids(), 10)
	wantErr(t, err, kerr.InvalidTxnState)

	m, changed, err := m.AddPartitions(pid, 0, parts("b", "a"), 10)
	if err != nil || !changed || m.State != Ongoing || m.StartMs != 10 {
		t.Fatalf("first AddPartitions: %+v changed %v err %v", m, changed, err)
	}
	m, changed, err = m.AddPartitions(pid, 0, append(parts("c"), parts("b", "a")...), 11)
	want := []Partition{{"a", 1}, {"b", 0}, {"c", 0}}
	if err != nil || !changed || !slices.Equal(m.Partitions, want) || m.StartMs != 10 {
		t.Fatalf("second AddPartitions: %+v changed %v err %v, want partitions %v from 10", m, changed, err, want)
	}
	if _, changed, _ := m.AddPartitions(pid, 0, parts("c"), 12); changed {
		t.Fatal("adding a partition already in the transaction asks for a write")
	}

	end := must(m.EndTxn(pid, 0, true, 1, ids(), 13))
	m = end.Next
	if end.Done || m.State != PrepareCommit || m.Epoch != 0 || len(m.Partitions) != 3 {
		t.Fatalf("EndTxn(commit): %+v", end)
	}
	_, _, err = m.AddPartitions(pid, 0, parts("d"), 14)
	wantErr(t, err, kerr.ConcurrentTransactions)
	_, err = m.EndTxn(pid, 0, true, 1, ids(), 14)
	wantErr(t, err, kerr.ConcurrentTransactions)
	_, err = m.EndTxn(pid, 0, false, 1, ids(), 14)
	wantErr(t, err, kerr.InvalidTxnState)
	_, err = m.InitProducerID(timeout, NoProducerID, NoEpoch, ids(), 14)
	wantErr(t, err, kerr.ConcurrentTransactions)

	m = must(m.Complete(15))
	if m.State != CompleteCommit || len(m.Partitions) != 0 || m.StartMs != 10 {
		t.Fatalf("Complete: %+v", m)
	}
	if end := must(m.EndTxn(pid, 0, true, 1, ids(), 16)); !end.Done {
		t.Fatalf("retried EndTxn(commit) after the commit: %+v, want done", end)
	}
	_, err = m.EndTxn(pid, 0, false, 1, ids(), 16)
	wantErr(t, err, kerr.InvalidTxnState)
	// The next transaction starts afresh.
	m, _, err = m.AddPartitions(pid, 0, parts("z"), 17)
	if err != nil || m.State != Ongoing || m.StartMs != 17 || len(m.Partitions) != 1 {
		t.Fatalf("next transaction: %+v %v", m, err)
	}
}

// A new producer with the same transactional id aborts the open
// transaction at a bumped epoch, which fences the old producer.
func TestInitProducerIDFencesAnOpenTransaction(t *testing.T) {
	m := initialized(t)
	m, _, _ = m.AddPartitions(pid, 0, parts("a"), 10)
	in := must(m.InitProducerID(timeout, NoProducerID, NoEpoch, ids(), 11))
	if !in.Aborting || in.Next.State != PrepareAbort || in.Next.Epoch != 1 || len(in.Next.Partitions) != 1 {
		t.Fatalf("InitProducerID over an open transaction: %+v", in)
	}
	_, err := in.Next.EndTxn(pid, 0, true, 1, ids(), 12)
	wantErr(t, err, kerr.ProducerFenced)
	done := must(in.Next.Complete(13))
	again := must(done.InitProducerID(timeout, NoProducerID, NoEpoch, ids(), 14))
	if again.Aborting || again.Next.Epoch != 2 || again.Next.State != Empty {
		t.Fatalf("the retried InitProducerID: %+v", again)
	}
}

func TestExpiredTransactionAborted(t *testing.T) {
	m := initialized(t)
	if m.Expired(math.MaxInt32) {
		t.Fatal("no transaction, yet expired")
	}
	m, _, _ = m.AddPartitions(pid, 0, parts("a"), 100)
	if m.Expired(100 + int64(timeout)) {
		t.Fatal("expired at its timeout exactly")
	}
	if !m.Expired(101 + int64(timeout)) {
		t.Fatal("not expired past its timeout")
	}
	a := must(m.Abort(200))
	if a.State != PrepareAbort || a.Epoch != 1 {
		t.Fatalf("Abort: %+v", a)
	}
	_, _, err := a.AddPartitions(pid, 0, parts("b"), 201)
	wantErr(t, err, kerr.ProducerFenced)
	if _, err := initialized(t).Abort(1); err == nil {
		t.Fatal("Abort with nothing open succeeded")
	}
}

// Transaction version 2 (KIP-890 part 2): every EndTxn bumps the epoch
// and says so; a retry carries the epoch before the bump.
func TestTransactionV2(t *testing.T) {
	m := initialized(t)
	m, _, _ = m.AddPartitions(pid, 0, parts("a"), 10)
	end := must(m.EndTxn(pid, 0, true, TV2, ids(), 11))
	if end.Next.State != PrepareCommit || end.Next.Epoch != 1 || end.ProducerID != pid || end.Epoch != 1 || end.Next.TV != TV2 {
		t.Fatalf("EndTxn(commit) v2: %+v", end)
	}
	m = end.Next
	_, err := m.EndTxn(pid, 0, true, TV2, ids(), 12)
	wantErr(t, err, kerr.ConcurrentTransactions)
	_, _, err = m.AddPartitions(pid, 0, parts("b"), 12)
	wantErr(t, err, kerr.ProducerFenced)
	m = must(m.Complete(13))
	if retry := must(m.EndTxn(pid, 0, true, TV2, ids(), 14)); !retry.Done || retry.Epoch != 1 {
		t.Fatalf("retried EndTxn after the commit: %+v, want done at epoch 1", retry)
	}
	_, err = m.EndTxn(pid, 0, false, TV2, ids(), 14)
	wantErr(t, err, kerr.ProducerFenced)
	_, err = m.EndTxn(pid, 1, true, TV2, ids(), 14)
	wantErr(t, err, kerr.InvalidTxnState)
	// An abort with nothing open bumps the epoch all the same.
	ab := must(m.EndTxn(pid, 1, false, TV2, ids(), 15))
	if ab.Next.State != PrepareAbort || ab.Epoch != 2 || len(ab.Next.Partitions) != 0 {
		t.Fatalf("EndTxn(abort) with nothing open: %+v", ab)
	}
}

// Under TV2 the bump that exhausts the epoch hands out the next producer
// id, which Complete installs; the old id at the last epoch is a retry.
func TestTransactionV2Rotation(t *testing.T) {
	m := initialized(t)
	m.Epoch = math.MaxInt16 - 1
	m, _, _ = m.AddPartitions(pid, m.Epoch, parts("a"), 10)
	end := must(m.EndTxn(pid, m.Epoch, false, TV2, ids(3000), 11))
	if end.Next.Epoch != math.MaxInt16 || end.Next.NextProducerID != 3000 || end.ProducerID != 3000 || end.Epoch != 0 {
		t.Fatalf("exhausting EndTxn: %+v", end)
	}
	done := must(end.Next.Complete(12))
	if done.ProducerID != 3000 || done.Epoch != 0 || done.PrevProducerID != pid || done.NextProducerID != NoProducerID {
		t.Fatalf("Complete after rotation: %+v", done)
	}
	if retry := must(done.EndTxn(pid, math.MaxInt16-1, false, TV2, ids(), 13)); !retry.Done || retry.ProducerID != 3000 {
		t.Fatalf("retried EndTxn across the rotation: %+v", retry)
	}
	if _, err := m.EndTxn(pid, m.Epoch, false, TV2, ids(), 11); err == nil {
		t.Fatal("exhausting EndTxn without a producer id to give succeeded")
	}
}
