package txn

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kafki/kafki/brokerd/batch"
	"github.com/kafki/kafki/internal/poll"
)

// memLog is an in-memory Log: appended batches get consecutive offsets;
// waitErr, when set, fails every wait (the ISR did not take the write).
type memLog struct {
	mu      sync.Mutex
	batches [][]byte
	end     int64
	waitErr error
}

func (l *memLog) Append(b []byte) (func(context.Context) error, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h, err := batch.ParseHeader(b)
	if err != nil {
		return nil, err
	}
	b = slices.Clone(b)
	batch.SetBaseOffset(b, l.end)
	l.batches = append(l.batches, b)
	l.end += int64(h.LastOffsetDelta) + 1
	werr := l.waitErr
	return func(context.Context) error { return werr }, nil
}

func (l *memLog) Read(offset int64, _ int) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []byte
	for _, b := range l.batches {
		h, _ := batch.ParseHeader(b)
		if h.LastOffset() >= offset {
			out = append(out, b...)
		}
	}
	return out, nil
}

func (l *memLog) Start() int64 { return 0 }
func (l *memLog) End() int64   { l.mu.Lock(); defer l.mu.Unlock(); return l.end }

// fakeMarkers records the markers written; while fail is set every write
// fails.
type fakeMarkers struct {
	mu   sync.Mutex
	got  []Marker
	fail atomic.Bool
}

func (f *fakeMarkers) Write(_ context.Context, m Marker) error {
	if f.fail.Load() {
		return errors.New("leader unreachable")
	}
	f.mu.Lock()
	f.got = append(f.got, m)
	f.mu.Unlock()
	return nil
}

func (f *fakeMarkers) written() []Marker {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.got)
}

type counterIDs struct{ next atomic.Int64 }

func (c *counterIDs) Next(context.Context) (int64, error) { return c.next.Add(1), nil }

type testClock struct{ ms atomic.Int64 }

func (c *testClock) now() time.Time { return time.UnixMilli(c.ms.Load()) }

type rig struct {
	c       *Coordinator
	lg      *memLog
	markers *fakeMarkers
	clock   *testClock
	ids     *counterIDs
}

// newRig is a coordinator leading the single partition of
// __transaction_state, at coordinator epoch 7.
func newRig(t *testing.T, lg *memLog) *rig {
	t.Helper()
	r := &rig{lg: lg, markers: &fakeMarkers{}, clock: &testClock{}, ids: &counterIDs{}}
	r.clock.ms.Store(1_000_000)
	r.ids.next.Store(99)
	cfg := DefaultConfig()
	cfg.Partitions, cfg.MarkerBackoff = 1, time.Millisecond
	r.c = New(cfg, r.ids, r.markers, slog.New(slog.NewTextHandler(io.Discard, nil)), r.clock.now)
	t.Cleanup(r.c.Close)
	if err := r.c.Lead(0, 7, lg); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *rig) waitState(t *testing.T, id string, want State) Metadata {
	t.Helper()
	var m Metadata
	poll.Must(t, 5*time.Second, id+" reaches "+want.String(), func() error {
		var err error
		if m, err = r.c.Describe(id); err != nil {
			return err
		}
		if m.State != want {
			return errors.New(m.State.String())
		}
		return nil
	})
	return m
}

func TestCoordinatorCommit(t *testing.T) {
	ctx := t.Context()
	r := newRig(t, &memLog{})
	r.markers.fail.Store(true)
	pid, epoch, err := r.c.InitProducerID(ctx, "app", 60000, NoProducerID, NoEpoch)
	if err != nil || pid != 100 || epoch != 0 {
		t.Fatalf("InitProducerID: %d %d %v, want 100 0", pid, epoch, err)
	}
	parts := []Partition{{"orders", 1}, {"orders", 0}}
	if err := r.c.AddPartitions(ctx, "app", pid, epoch, parts); err != nil {
		t.Fatal(err)
	}
	if err := r.c.Verify("app", pid, epoch, parts[:1]); err != nil {
		t.Fatalf("Verify of an added partition: %v", err)
	}
	wantErr(t, r.c.Verify("app", pid, epoch, []Partition{{"other", 0}}), kerr.InvalidTxnState)
	if _, _, err := r.c.EndTxn(ctx, "app", pid, epoch, true, 1); err != nil {
		t.Fatal(err)
	}
	// Until the markers are written the id is busy.
	wantErr(t, r.c.AddPartitions(ctx, "app", pid, epoch, parts), kerr.ConcurrentTransactions)
	_, _, err = r.c.InitProducerID(ctx, "app", 60000, NoProducerID, NoEpoch)
	wantErr(t, err, kerr.ConcurrentTransactions)
	if m, _ := r.c.Describe("app"); m.State != PrepareCommit {
		t.Fatalf("state %s while markers fail, want PrepareCommit", m.State)
	}

	r.markers.fail.Store(false)
	r.waitState(t, "app", CompleteCommit)
	got := r.markers.written()
	want := Marker{ProducerID: 100, Epoch: 0, Commit: true, CoordinatorEpoch: 7, Partitions: []Partition{{"orders", 0}, {"orders", 1}}}
	if len(got) != 1 || got[0].ProducerID != want.ProducerID || got[0].Epoch != want.Epoch || !got[0].Commit ||
		got[0].CoordinatorEpoch != want.CoordinatorEpoch || !slices.Equal(got[0].Partitions, want.Partitions) {
		t.Fatalf("markers %+v, want one %+v", got, want)
	}
}

// A coordinator that takes over a partition resumes the markers of the
// transactions its predecessor prepared.
func TestCoordinatorResumesPreparedTransactions(t *testing.T) {
	ctx := t.Context()
	lg := &memLog{}
	r := newRig(t, lg)
	r.markers.fail.Store(true)
	pid, epoch, _ := r.c.InitProducerID(ctx, "app", 60000, NoProducerID, NoEpoch)
	if err := r.c.AddPartitions(ctx, "app", pid, epoch, []Partition{{"t", 0}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.c.EndTxn(ctx, "app", pid, epoch, false, 1); err != nil {
		t.Fatal(err)
	}
	r.c.Resign(0)
	_, err := r.c.Describe("app")
	wantErr(t, err, kerr.NotCoordinator)

	next := newRig(t, lg)
	m := next.waitState(t, "app", CompleteAbort)
	if m.ProducerID != pid || m.Epoch != epoch {
		t.Fatalf("reloaded producer %d epoch %d, want %d %d", m.ProducerID, m.Epoch, pid, epoch)
	}
	if got := next.markers.written(); len(got) != 1 || got[0].Commit {
		t.Fatalf("resumed markers %+v, want one abort", got)
	}
}

// A second producer with the same transactional id aborts the first's
// open transaction and fences it.
func TestCoordinatorFencesZombie(t *testing.T) {
	ctx := t.Context()
	r := newRig(t, &memLog{})
	pid, e0, _ := r.c.InitProducerID(ctx, "app", 60000, NoProducerID, NoEpoch)
	if err := r.c.AddPartitions(ctx, "app", pid, e0, []Partition{{"t", 0}}); err != nil {
		t.Fatal(err)
	}
	_, _, err := r.c.InitProducerID(ctx, "app", 60000, NoProducerID, NoEpoch)
	wantErr(t, err, kerr.ConcurrentTransactions)
	r.waitState(t, "app", CompleteAbort)
	pid2, e2, err := r.c.InitProducerID(ctx, "app", 60000, NoProducerID, NoEpoch)
	if err != nil || pid2 != pid || e2 != e0+2 {
		t.Fatalf("retried InitProducerID: %d %d %v, want %d %d", pid2, e2, err, pid, e0+2)
	}
	_, _, err = r.c.EndTxn(ctx, "app", pid, e0, true, 1)
	wantErr(t, err, kerr.ProducerFenced)
	if got := r.markers.written(); len(got) != 1 || got[0].Commit || got[0].Epoch != e0+1 {
		t.Fatalf("markers %+v, want one abort at epoch %d", got, e0+1)
	}
}

func TestCoordinatorAbortsExpired(t *testing.T) {
	ctx := t.Context()
	r := newRig(t, &memLog{})
	pid, epoch, _ := r.c.InitProducerID(ctx, "app", 1000, NoProducerID, NoEpoch)
	if err := r.c.AddPartitions(ctx, "app", pid, epoch, []Partition{{"t", 0}}); err != nil {
		t.Fatal(err)
	}
	if n := r.c.AbortExpired(ctx); n != 0 {
		t.Fatalf("aborted %d before the timeout", n)
	}
	r.clock.ms.Add(1001)
	if n := r.c.AbortExpired(ctx); n != 1 {
		t.Fatalf("aborted %d past the timeout, want 1", n)
	}
	r.waitState(t, "app", CompleteAbort)
	wantErr(t, r.c.AddPartitions(ctx, "app", pid, epoch, []Partition{{"t", 1}}), kerr.ProducerFenced)
}

func TestCoordinatorRefusals(t *testing.T) {
	ctx := t.Context()
	lg := &memLog{}
	r := newRig(t, lg)
	_, _, err := r.c.InitProducerID(ctx, "app", int32((16 * time.Minute).Milliseconds()), NoProducerID, NoEpoch)
	wantErr(t, err, kerr.InvalidTransactionTimeout)
	_, _, err = r.c.InitProducerID(ctx, "", 1000, NoProducerID, NoEpoch)
	wantErr(t, err, kerr.InvalidRequest)
	wantErr(t, r.c.AddPartitions(ctx, "nobody", 1, 0, []Partition{{"t", 0}}), kerr.InvalidProducerIDMapping)
	_, err = r.c.Describe("nobody")
	wantErr(t, err, kerr.TransactionalIDNotFound)

	pid, epoch, _ := r.c.InitProducerID(ctx, "app", 1000, NoProducerID, NoEpoch)
	lg.mu.Lock()
	lg.waitErr = errors.New("not enough replicas")
	lg.mu.Unlock()
	wantErr(t, r.c.AddPartitions(ctx, "app", pid, epoch, []Partition{{"t", 0}}), kerr.NotCoordinator)
	if m, _ := r.c.Describe("app"); m.State != Empty {
		t.Fatalf("state %s after a failed write, want Empty (unchanged)", m.State)
	}
	r.c.Resign(0)
	wantErr(t, r.c.AddPartitions(ctx, "app", pid, epoch, nil), kerr.NotCoordinator)
}

// A record that does not decode is skipped; the others load.
func TestCoordinatorLoadSkipsBadRecords(t *testing.T) {
	lg := &memLog{}
	good := NewMetadata("good", 5, 1000, 1)
	good.Epoch = 3
	for _, rec := range []batch.Record{
		{Key: []byte{0, 0, 0}, Value: []byte{1}},
		{Key: Key("good"), Value: good.Value()},
		{Key: Key("bad"), Value: []byte{0, 7, 1, 2}},
		{Key: Key("gone"), Value: good.Value()},
		{Key: Key("gone"), Value: nil},
	} {
		if _, err := lg.Append(batch.Build([]batch.Record{rec}, batch.BuildOptions{})); err != nil {
			t.Fatal(err)
		}
	}
	r := newRig(t, lg)
	m, err := r.c.Describe("good")
	if err != nil || m.ProducerID != 5 || m.Epoch != 3 {
		t.Fatalf("good: %+v %v", m, err)
	}
	for _, id := range []string{"bad", "gone"} {
		if _, err := r.c.Describe(id); !errors.Is(err, kerr.TransactionalIDNotFound) {
			t.Fatalf("%s: %v, want not found", id, err)
		}
	}
	if l := r.c.List(); len(l) != 1 || l[0].ID != "good" {
		t.Fatalf("List: %+v", l)
	}
}
