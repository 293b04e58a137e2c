package lease

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kafki/kafki/tiering/mototest"
)

var moto *mototest.Server

func TestMain(m *testing.M) { os.Exit(mototest.Main(m, &moto)) }

func dynamoStore(t *testing.T) *DynamoStore {
	t.Helper()
	client := dynamodb.NewFromConfig(moto.SerialConfig())
	table := fmt.Sprintf("kafki-lease-%d", time.Now().UnixNano())
	if err := EnsureTable(t.Context(), client, table); err != nil {
		t.Fatal(err)
	}
	return &DynamoStore{Client: client, Table: table}
}

func TestDynamoConcurrentAcquirersExactlyOneWins(t *testing.T) {
	store := dynamoStore(t)
	const n = 8
	var wg sync.WaitGroup
	wins := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			l, _ := New(Config{Name: "controller", Holder: "b" + strconv.Itoa(i), Duration: time.Minute, Store: store})
			ok, _, err := l.TryAcquire(t.Context())
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins <- l.cfg.Holder
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
	store := dynamoStore(t)
	cfg := func(h string) Config {
		return Config{Name: "broker/1", Holder: h, Duration: 300 * time.Millisecond, Store: store}
	}
	a, _ := New(cfg("a"))
	if _, err := a.Acquire(t.Context()); err != nil {
		t.Fatal(err)
	}
	// a stops renewing; b takes over after one duration, epoch 2.
	b, _ := New(cfg("b"))
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
	if err := a.Renew(t.Context()); !errors.Is(err, ErrLost) {
		t.Fatalf("old holder renew: %v", err)
	}
}

func TestDynamoRenewalRacingTakeover(t *testing.T) {
	store := dynamoStore(t)
	a, _ := New(Config{Name: "p", Holder: "a", Duration: 400 * time.Millisecond, Store: store})
	if _, err := a.Acquire(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go a.Run(ctx, nil)
	// b tries for three lease durations while a keeps renewing: it must
	// never get it.
	b, _ := New(Config{Name: "p", Holder: "b", Duration: 400 * time.Millisecond, Store: store})
	bctx, bcancel := context.WithTimeout(t.Context(), 1200*time.Millisecond)
	defer bcancel()
	if _, err := b.Acquire(bctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("contender got a lease that was being renewed: %v", err)
	}
	if !a.Valid() || a.Epoch() != 1 {
		t.Fatal("renewing holder lost its lease")
	}
}

func TestDynamoStaleEpochWriteRejected(t *testing.T) {
	store := dynamoStore(t)
	put := func(v string) types.TransactWriteItem {
		return types.TransactWriteItem{Put: &types.Put{
			TableName: &store.Table,
			Item: map[string]types.AttributeValue{
				"pk":    &types.AttributeValueMemberS{Value: "partition#t/0"},
				"value": &types.AttributeValueMemberS{Value: v},
			},
		}}
	}
	a, _ := New(Config{Name: "partition/t/0", Holder: "a", Duration: time.Minute, Store: store})
	a.Acquire(t.Context())
	if err := store.Fenced(t.Context(), "partition/t/0", a.Epoch(), put("from a")); err != nil {
		t.Fatalf("current holder's fenced write: %v", err)
	}
	a.Release(t.Context())
	b, _ := New(Config{Name: "partition/t/0", Holder: "b", Duration: time.Minute, Store: store})
	b.Acquire(t.Context())
	// a still believes in epoch 1: its write must be rejected.
	if err := store.Fenced(t.Context(), "partition/t/0", 1, put("stale")); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale epoch write: %v", err)
	}
	out, err := store.Client.GetItem(t.Context(), &dynamodb.GetItemInput{
		TableName: &store.Table, ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "partition#t/0"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if v := out.Item["value"].(*types.AttributeValueMemberS).Value; v != "from a" {
		t.Fatalf("value %q: the stale write landed", v)
	}
}
