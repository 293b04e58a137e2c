package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafki/kafki/internal/poll"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	crashCycles     = 6
	crashPartitions = 3
	minKillDelay    = 200 * time.Millisecond
	maxKillDelay    = 1500 * time.Millisecond
	recordsPerTick  = 10 // every millisecond
	// midRequestWait bounds the wait, after the random delay, for a
	// produce request to be outstanding at the kill.
	midRequestWait = 250 * time.Millisecond
	// progressTimeout bounds how long a restarted broker may take to
	// acknowledge the first record of a cycle (includes kgo's reconnect
	// backoff).
	progressTimeout = 20 * time.Second
)

// TestCrashRecoveryAcksAll kills the broker with SIGKILL at random moments
// under an acks=all idempotent load, restarting it on the same data each
// time, and checks that every acknowledged record survived at exactly its
// acknowledged offset, that each partition's offsets are contiguous from 0,
// and that no record was written twice.
//
// One producer client lives across all crashes, so batches in flight at a
// crash are retried with their original producer id and sequence numbers
// against the recovered broker: a broker that forgets its idempotence state
// on recovery shows up here as duplicates.
func TestCrashRecoveryAcksAll(t *testing.T) {
	seed := crashSeed(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kill schedule seed %d: rerun with KAFKI_E2E_SEED=%d", seed, seed)
		}
	})
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6b61666b69))

	b := StartBroker(t, Options{Flags: []string{"--log.flush.on.ack=true", "--log.segment.bytes=65536"}})
	const topic = "crash"
	createTopic(t, b.Addr, topic, crashPartitions)

	acks := newAckLog()
	var watch produceWatch
	var clientLog logBuffer
	var lossMu sync.Mutex
	var dataLoss []string
	cl := newClient(t, b.Addr,
		kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotence is kgo's default
		kgo.RecordDeliveryTimeout(30*time.Second),
		kgo.MaxBufferedRecords(2000),
		kgo.ProducerOnDataLossDetected(func(topic string, p int32) {
			lossMu.Lock()
			defer lossMu.Unlock()
			dataLoss = append(dataLoss, fmt.Sprintf("%s/%d", topic, p))
		}),
		kgo.WithLogger(kgo.BasicLogger(&clientLog, kgo.LogLevelInfo, nil)),
		kgo.WithHooks(&watch),
	)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("producer client log (last %d bytes):\n%s", maxLogShown/2, tail(clientLog.String(), maxLogShown/2))
		}
	})

	prod := startPacedProducer(t, cl, crashPartitions, recordsPerTick, acks)

	killedMidRequest := 0
	for cycle := 1; cycle <= crashCycles; cycle++ {
		acks.awaitProgress(t, b, fmt.Sprintf("cycle %d", cycle))
		// The crash moment is chosen at random (reproducible from the
		// seed); sleeping here is the fault injection, not a wait for a
		// condition.
		delay := minKillDelay + time.Duration(rng.Int64N(int64(maxKillDelay-minKillDelay)))
		time.Sleep(delay)
		// Then, briefly, wait for a produce request to be outstanding,
		// so most kills land between append and acknowledgement.
		midRequest := poll.Within(context.Background(), midRequestWait, "a produce request outstanding", func() error {
			if !watch.outstanding() {
				return errors.New("no produce request outstanding")
			}
			return nil
		}) == nil
		b.Kill()
		if midRequest {
			killedMidRequest++
		}
		t.Logf("cycle %d: killed %v after load resumed (produce request outstanding: %v); %d records acknowledged so far",
			cycle, delay.Round(time.Millisecond), midRequest, acks.acked())
		b.Start()
	}

	// Let the producer reach the final broker too, then drain everything
	// still buffered so every promise has resolved.
	acks.awaitProgress(t, b, "final run")
	total := prod.stop(t)
	t.Logf("%d records handed to the producer, %d acknowledged, errors: %s; %d of %d kills hit an outstanding produce request",
		total, acks.acked(), acks.errorSummary(), killedMidRequest, crashCycles)

	got := readAll(t, b.Addr, topic, 60*time.Second)
	checkCrashLog(t, got, acks)

	lossMu.Lock()
	defer lossMu.Unlock()
	if len(dataLoss) > 0 {
		t.Errorf("the producer detected data loss (broker forgot acknowledged sequence numbers) on %v", dataLoss)
	}
}

// checkCrashLog compares what the broker holds with what it acknowledged
// and fails the test on any difference.
func checkCrashLog(t *testing.T, got map[int32][]*kgo.Record, acks *ackLog) {
	t.Helper()
	acked := acks.snapshot()
	problems, present := crashLogProblems(got, acked)
	sizes := make([]string, 0, len(got))
	for _, p := range partitions(got) {
		sizes = append(sizes, fmt.Sprintf("p%d=%d", p, len(got[p])))
	}
	t.Logf("after %d crashes the log holds %d records (%s); %d acknowledged, %d present without an acknowledgement",
		crashCycles, present, strings.Join(sizes, " "), len(acked), present-countPresent(acked, got))
	if len(acked) == 0 {
		t.Errorf("no record was acknowledged: the test proved nothing")
	}
	if len(problems) > 0 {
		const maxShown = 25
		shown := problems
		if len(shown) > maxShown {
			shown = shown[:maxShown]
		}
		t.Errorf("%d problems in the recovered log:\n  %s", len(problems), strings.Join(shown, "\n  "))
	}
}

// crashLogProblems lists every way the log read back (records by
// partition, in fetch order) breaks the crash invariants given the
// acknowledged records: offsets contiguous from 0, no value twice, every
// acknowledged value at its acknowledged place. It also returns how many
// distinct test values the log holds.
func crashLogProblems(got map[int32][]*kgo.Record, acked map[int]ack) (problems []string, present int) {
	report := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	seen := map[int]ack{}             // every value in the log, by sequence number
	byOffset := map[ack]*kgo.Record{} // every record, by its place
	for _, p := range partitions(got) {
		gap := false
		for i, r := range got[p] {
			if r.Offset != int64(i) && !gap {
				report("partition %d: record #%d has offset %d: offsets not contiguous from 0", p, i, r.Offset)
				gap = true // one report per partition is enough
			}
			byOffset[ack{p, r.Offset}] = r
			seq, err := parseCrashValue(r.Value)
			if err != nil {
				report("partition %d offset %d: %v", p, r.Offset, err)
				continue
			}
			if prev, dup := seen[seq]; dup {
				report("value %d duplicated: partition %d offset %d and partition %d offset %d", seq, prev.partition, prev.offset, p, r.Offset)
				continue
			}
			seen[seq] = ack{p, r.Offset}
		}
	}
	for _, seq := range sortedKeys(acked) {
		a := acked[seq]
		r, ok := byOffset[a]
		switch {
		case !ok:
			report("acknowledged value %d at partition %d offset %d is missing (partition holds %d records)", seq, a.partition, a.offset, len(got[a.partition]))
		case string(r.Value) != string(crashValue(seq)):
			report("acknowledged value %d at partition %d offset %d: found %.20q instead", seq, a.partition, a.offset, r.Value)
		}
	}
	return problems, len(seen)
}

// countPresent counts the acknowledged values found at their place.
func countPresent(acked map[int]ack, got map[int32][]*kgo.Record) int {
	n := 0
	for seq, a := range acked {
		recs := got[a.partition]
		if a.offset >= 0 && a.offset < int64(len(recs)) && string(recs[a.offset].Value) == string(crashValue(seq)) {
			n++
		}
	}
	return n
}

func sortedKeys[V any](m map[int]V) []int {
	ks := make([]int, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Ints(ks)
	return ks
}

// crashSeed is KAFKI_E2E_SEED if set, else a fresh seed.
func crashSeed(t *testing.T) int64 {
	if s := os.Getenv("KAFKI_E2E_SEED"); s != "" {
		seed, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("KAFKI_E2E_SEED=%q: %v", s, err)
		}
		return seed
	}
	return time.Now().UnixNano()
}

// crashValue encodes seq with some filler so that 64 KiB segments roll
// every few hundred records.
func crashValue(seq int) []byte {
	v := fmt.Sprintf("%010d|", seq)
	return []byte(v + strings.Repeat(string(rune('a'+seq%26)), 120))
}

func parseCrashValue(v []byte) (int, error) {
	head, _, ok := strings.Cut(string(v), "|")
	seq, err := strconv.Atoi(head)
	if !ok || err != nil || string(crashValue(seq)) != string(v) {
		return 0, fmt.Errorf("value %.24q is not one the test produced", v)
	}
	return seq, nil
}

// produceWatch notes when the producer last sent a produce request and
// when it last got an answer to one, so the test can kill the broker while
// a request is outstanding: written (maybe appended) but not acknowledged,
// the case that must be retried and deduplicated after recovery.
type produceWatch struct {
	mu       sync.Mutex
	sent     time.Time
	answered time.Time
}

func (w *produceWatch) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key == 0 && err == nil {
		w.mu.Lock()
		w.sent = time.Now()
		w.mu.Unlock()
	}
}

func (w *produceWatch) OnBrokerE2E(_ kgo.BrokerMetadata, key int16, e kgo.BrokerE2E) {
	if key == 0 && e.WriteErr == nil {
		w.mu.Lock()
		w.answered = time.Now()
		w.mu.Unlock()
	}
}

// outstanding reports whether a produce request is awaiting its answer.
func (w *produceWatch) outstanding() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sent.After(w.answered)
}

// ack is where the broker said it stored a record.
type ack struct {
	partition int32
	offset    int64
}

// ackLog records the outcome of every produce promise.
type ackLog struct {
	mu     sync.Mutex
	acks   map[int]ack    // by sequence number, acknowledged only
	errors map[string]int // error text → count, for diagnostics
}

func newAckLog() *ackLog {
	return &ackLog{acks: map[int]ack{}, errors: map[string]int{}}
}

func (l *ackLog) promise(seq int) func(*kgo.Record, error) {
	return func(r *kgo.Record, err error) {
		l.mu.Lock()
		defer l.mu.Unlock()
		if err != nil {
			l.errors[err.Error()]++
			return
		}
		l.acks[seq] = ack{r.Partition, r.Offset}
	}
}

func (l *ackLog) acked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acks)
}

func (l *ackLog) snapshot() map[int]ack {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := make(map[int]ack, len(l.acks))
	for k, v := range l.acks {
		m[k] = v
	}
	return m
}

// pacedProducer hands cl the records crashValue(0), crashValue(1), ...,
// perTick of them every millisecond, round-robin over partitions, each
// with acks' promise. Paced, so the amount to verify stays bounded however
// fast the machine is (about perTick*1000 records/s, still hundreds of
// produce requests and several segment rolls per second).
type pacedProducer struct {
	cl       *kgo.Client
	stopLoop context.CancelFunc
	produced chan int // how many records were handed to Produce
}

func startPacedProducer(t *testing.T, cl *kgo.Client, partitions, perTick int, acks *ackLog) *pacedProducer {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel) // a test that fails early stops the loop too
	p := &pacedProducer{cl: cl, stopLoop: cancel, produced: make(chan int, 1)}
	go func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		seq := 0
		for ctx.Err() == nil {
			for end := seq + perTick; seq < end && ctx.Err() == nil; seq++ {
				r := &kgo.Record{Partition: int32(seq % partitions), Value: crashValue(seq)}
				// Not ctx: stopping the loop must not fail the records
				// still buffered; stop's Flush waits for them, so the
				// last broker run acknowledges records too.
				cl.Produce(context.Background(), r, acks.promise(seq))
			}
			select {
			case <-ctx.Done():
			case <-tick.C:
			}
		}
		p.produced <- seq
	}()
	return p
}

// stop ends the loop, waits until every buffered record is acknowledged
// or failed (every promise resolved), closes the client and returns how
// many records were handed to it.
func (p *pacedProducer) stop(t *testing.T) int {
	t.Helper()
	p.stopLoop()
	total := <-p.produced
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := p.cl.Flush(ctx); err != nil {
		t.Fatalf("flushing the producer: %v", err)
	}
	p.cl.Close()
	return total
}

// awaitProgress waits until the producer has an acknowledgement it did
// not have on entry: the broker's current run is serving writes.
func (l *ackLog) awaitProgress(t *testing.T, b *Broker, what string) {
	t.Helper()
	before := l.acked()
	if err := poll.Within(t.Context(), progressTimeout, what, func() error {
		if n := l.acked(); n <= before {
			return fmt.Errorf("no record acknowledged since brokerd run #%d started (acked %d, errors %s)", b.runs, n, l.errorSummary())
		}
		return nil
	}); err != nil {
		t.Fatalf("%s: producer made no progress: %v", what, err)
	}
}

func (l *ackLog) errorSummary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errors) == 0 {
		return "none"
	}
	var parts []string
	for e, n := range l.errors {
		parts = append(parts, fmt.Sprintf("%dx %s", n, e))
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}
