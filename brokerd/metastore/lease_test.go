package metastore

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kafki/kafki/brokerd/lease"
)

func TestDynamoConcurrentAcquirersExactlyOneWins(t *testing.T) {
	store := newStore(t)
	const n = 8
	var wg sync.WaitGroup
	wins := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			l, _ := lease.New(lease.Config{Name: "controller", Holder: "b" + strconv.Itoa(i), Duration: time.Minute, Store: store})
			ok, _, err := l.TryAcquire(t.Context())
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins <- "b" + strconv.Itoa(i)
			}
		}(i)
	}
	wg.Wait()
	close(wins)
	var winners []string
	for w := range wins {
		winners = append(winners, w)
	}
	if len(winners) != 1 {
		t.Fatalf("winners %v, want exactly one", winners)
	}
	rec, _, _ := store.Get(t.Context(), "controller")
	if rec.Holder != winners[0] || rec.Epoch != 1 {
		t.Fatalf("record %+v, winner %s", rec, winners[0])
	}
}

func TestDynamoExpiryAndTakeover(t *testing.T) {
	store := newStore(t)
	cfg := func(h string) lease.Config {
		return lease.Config{Name: "broker/1", Holder: h, Duration: 300 * time.Millisecond, Store: store}
	}
	a, _ := lease.New(cfg("a"))
	if _, err := a.Acquire(t.Context()); err != nil {
		t.Fatal(err)
	}
	// a stops renewing; b takes over after one duration, epoch 2.
	b, _ := lease.New(cfg("b"))
	start := time.Now()
	epoch, err := b.Acquire(t.Context())
	if err != nil || epoch != 2 {
		t.Fatalf("acquire: epoch %d err %v", epoch, err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("took over after %v, before a full lease duration", d)
	}
	if a.Valid() {
		t.Fatal("expired holder still valid")
	}
	if err := a.Renew(t.Context()); !errors.Is(err, lease.ErrLost) {
		t.Fatalf("old holder renew: %v", err)
	}
}

func TestDynamoRenewalRacingTakeover(t *testing.T) {
	store := newStore(t)
	a, _ := lease.New(lease.Config{Name: "p", Holder: "a", Duration: 400 * time.Millisecond, Store: store})
	if _, err := a.Acquire(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go a.Run(ctx, nil)
	// b tries for three lease durations while a keeps renewing: it must
	// never get it.
	b, _ := lease.New(lease.Config{Name: "p", Holder: "b", Duration: 400 * time.Millisecond, Store: store})
	bctx, bcancel := context.WithTimeout(t.Context(), 1200*time.Millisecond)
	defer bcancel()
	if _, err := b.Acquire(bctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("contender got a lease that was being renewed: %v", err)
	}
	if !a.Valid() || a.Epoch() != 1 {
		t.Fatal("renewing holder lost its lease")
	}
}

// A fenced write is refused once the lease moved to a new epoch: the
// old holder cannot write on its behalf even before it notices.
func TestFencedWriteRefusedAtStaleEpoch(t *testing.T) {
	store := newStore(t)
	ctx := t.Context()
	put := func(v string) types.TransactWriteItem {
		return types.TransactWriteItem{Put: &types.Put{
			TableName: &store.table,
			Item:      withAttr(key("test", "x"), "value", str(v)),
		}}
	}
	a, _ := lease.New(lease.Config{Name: "partition/t/0", Holder: "a", Duration: time.Minute, Store: store})
	a.Acquire(ctx)
	if err := store.fenced(ctx, "partition/t/0", a.Epoch(), put("from a")); err != nil {
		t.Fatalf("current holder's fenced write: %v", err)
	}
	a.Release(ctx)
	b, _ := lease.New(lease.Config{Name: "partition/t/0", Holder: "b", Duration: time.Minute, Store: store})
	b.Acquire(ctx)
	// a still believes in epoch 1: its write must be refused.
	if err := store.fenced(ctx, "partition/t/0", 1, put("stale")); !errors.Is(err, lease.ErrConflict) {
		t.Fatalf("stale epoch write: %v", err)
	}
	got, err := store.get(ctx, key("test", "x"))
	if err != nil {
		t.Fatal(err)
	}
	if v := got["value"].(*types.AttributeValueMemberS).Value; v != "from a" {
		t.Fatalf("value %q: the stale write landed", v)
	}
}
