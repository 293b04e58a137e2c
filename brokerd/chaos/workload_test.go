package chaos

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/brokerd/internal/checker"
	"github.com/kafki/kafki/brokerd/internal/clusterproc"
)

// Client timeouts. A paused broker keeps its connections open and answers
// nothing, so every request needs a client-side bound: the produce timeout
// the broker is given plus RequestTimeoutOverhead. RecordDeliveryTimeout
// bounds a record's retries as a whole, so a writer never waits on one
// record for longer than that, whatever the cluster does.
const (
	produceTimeout  = 2 * time.Second
	timeoutOverhead = 1500 * time.Millisecond
	deliveryTimeout = 4 * time.Second
	dialTimeout     = time.Second
)

// Workload shape: writers × one record per writeEvery, at most
// maxInFlight unresolved records per writer.
const (
	writers     = 3
	readers     = 2
	writeEvery  = 5 * time.Millisecond
	maxInFlight = 200
)

// target is how the test's clients reach the cluster: its bootstrap
// servers and, for a secured cluster, the TLS and SASL options.
type target struct {
	seeds []string
	sec   []kgo.Opt
}

func targetOf(c *clusterproc.Cluster) target {
	return target{seeds: c.Bootstrap(), sec: c.ClientOpts()}
}

// clientOpts are the options every client of the test shares: short
// dials and request bounds, and quick metadata refreshes so clients follow
// leader changes at the pace of the faults.
func clientOpts(tg target) []kgo.Opt {
	return append([]kgo.Opt{
		kgo.SeedBrokers(tg.seeds...),
		kgo.DialTimeout(dialTimeout),
		kgo.RequestTimeoutOverhead(timeoutOverhead),
		kgo.MetadataMinAge(100 * time.Millisecond),
		kgo.MetadataMaxAge(2 * time.Second),
		kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }),
	}, tg.sec...)
}

// producerOpts: idempotent (kgo's default), acks=all, partition chosen by
// the test so Sent names it.
func producerOpts(tg target) []kgo.Opt {
	return append(clientOpts(tg),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProduceRequestTimeout(produceTimeout),
		kgo.RecordDeliveryTimeout(deliveryTimeout),
	)
}

// ack is one acknowledged write, with when it was handed to the client
// and when the acknowledgement arrived.
type ack struct {
	partition int32
	offset    int64
	sent, at  time.Time
}

// ackLog keeps every acknowledgement's timing, for the failover
// measurements and the below-min-ISR check.
type ackLog struct {
	mu   sync.Mutex
	acks []ack
}

func (l *ackLog) add(a ack) {
	l.mu.Lock()
	l.acks = append(l.acks, a)
	l.mu.Unlock()
}

// firstAfter returns the arrival time of the first acknowledgement of a
// write to partition p handed to the client after t. Only such a write
// proves a new leader: an acknowledgement the old leader sent just before
// t may still arrive after it. (The idempotent producer delivers a
// partition's writes in order, so the retried older ones are acknowledged
// no later than the first new one.)
func (l *ackLog) firstAfter(p int32, t time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var first time.Time
	for _, a := range l.acks {
		if a.partition == p && a.sent.After(t) && (first.IsZero() || a.at.Before(first)) {
			first = a.at
		}
	}
	return first, !first.IsZero()
}

// sentAndAckedWithin returns the acknowledgements of writes handed to the
// client at or after from that arrived before to.
func (l *ackLog) sentAndAckedWithin(from, to time.Time) []ack {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []ack
	for _, a := range l.acks {
		if !a.sent.Before(from) && a.at.Before(to) {
			out = append(out, a)
		}
	}
	return out
}

// countSince counts acknowledgements per partition that arrived after t.
func (l *ackLog) countSince(t time.Time) map[int32]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[int32]int{}
	for _, a := range l.acks {
		if a.at.After(t) {
			out[a.partition]++
		}
	}
	return out
}

// workload runs the writers and readers until stopped.
type workload struct {
	chk  *checker.Checker
	acks *ackLog

	stopWrite chan struct{}
	writeWG   sync.WaitGroup
	writeErr  atomic.Int64 // failed sends (all indeterminate or definite)

	readCancel context.CancelFunc
	readWG     sync.WaitGroup
	readErrs   atomic.Int64 // fetch errors other than resets
	resets     atomic.Int64 // ErrDataLoss resets reported by kgo

	clients []*kgo.Client
}

func startWorkload(ctx context.Context, chk *checker.Checker, tg target) (*workload, error) {
	w := &workload{chk: chk, acks: &ackLog{}, stopWrite: make(chan struct{})}
	for i := range writers {
		cl, err := kgo.NewClient(producerOpts(tg)...)
		if err != nil {
			w.close()
			return nil, fmt.Errorf("writer %d: %w", i, err)
		}
		w.clients = append(w.clients, cl)
		w.writeWG.Go(func() { w.write(ctx, i, cl) })
	}
	rctx, cancel := context.WithCancel(ctx)
	w.readCancel = cancel
	for i := range readers {
		name := fmt.Sprintf("reader-%d", i)
		offsets := map[int32]kgo.Offset{}
		for p := range int32(partitions) {
			offsets[p] = kgo.NewOffset().At(0)
		}
		cl, err := kgo.NewClient(append(clientOpts(tg),
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.FetchMaxWait(200*time.Millisecond),
		)...)
		if err != nil {
			w.close()
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		w.clients = append(w.clients, cl)
		w.readWG.Go(func() { w.read(rctx, name, cl) })
	}
	return w, nil
}

// write sends unique values round-robin over the partitions, one per
// writeEvery, until stopWrite closes; then it waits for every send's
// outcome (bounded by deliveryTimeout).
func (w *workload) write(ctx context.Context, id int, cl *kgo.Client) {
	inflight := make(chan struct{}, maxInFlight)
	tick := time.NewTicker(writeEvery)
	defer tick.Stop()
	for seq := 0; ; seq++ {
		select {
		case <-w.stopWrite:
			// Flush returns once every record has an outcome; the
			// delivery timeout bounds that.
			_ = cl.Flush(ctx)
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		select {
		case inflight <- struct{}{}:
		case <-w.stopWrite:
			_ = cl.Flush(ctx)
			return
		case <-ctx.Done():
			return
		}
		p := int32(seq % partitions)
		v := fmt.Sprintf("w%d-%d", id, seq)
		w.chk.Sent(topic, p, v)
		sent := time.Now()
		cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: p, Value: []byte(v)}, func(r *kgo.Record, err error) {
			<-inflight
			if err != nil {
				w.writeErr.Add(1)
				w.chk.Failed(v, definiteFailure(err))
				return
			}
			w.acks.add(ack{partition: r.Partition, offset: r.Offset, sent: sent, at: time.Now()})
			w.chk.Acked(topic, r.Partition, v, r.Offset)
		})
	}
}

// definiteFailure reports whether err proves the record was never sent to
// a broker. kgo says so only when it refused to buffer the record; any
// other error (a timeout, a lost connection, a retriable broker error that
// ran out of time, a cancelled context) may come after an attempt the
// broker appended, so the outcome is unknown.
func definiteFailure(err error) bool {
	return errors.Is(err, kgo.ErrMaxBuffered)
}

// read polls every partition from offset 0 until ctx ends, reporting
// every record and every reset kgo made.
func (w *workload) read(ctx context.Context, name string, cl *kgo.Client) {
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		// Errors first: a reset (ErrDataLoss) moves the position the
		// records after it come from.
		fs.EachError(func(t string, p int32, err error) {
			var loss *kgo.ErrDataLoss
			if errors.As(err, &loss) {
				w.resets.Add(1)
				w.chk.Seeked(name, loss.Topic, loss.Partition, loss.ResetTo)
				return
			}
			w.readErrs.Add(1)
		})
		fs.EachRecord(func(r *kgo.Record) {
			w.chk.Polled(name, r.Topic, r.Partition, r.Offset, string(r.Value))
		})
	}
}

// stopWriters stops sending and waits until every send has an outcome.
func (w *workload) stopWriters() {
	close(w.stopWrite)
	w.writeWG.Wait()
}

// stopReaders stops polling and waits for the readers to return.
func (w *workload) stopReaders() {
	w.readCancel()
	w.readWG.Wait()
}

func (w *workload) close() {
	for _, cl := range w.clients {
		cl.Close()
	}
}
