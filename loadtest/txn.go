package loadtest

// Transactions (issue 17's Performance section): with --transactional-id
// each producer is a transactional producer (id PREFIX-i) that commits
// every --transaction-records records; with --isolation=read_committed the
// consumers read below the last stable offset only.
//
// A transactional record counts when its transaction commits, not when its
// batch is acknowledged: its latency runs from its intended send time to
// the end of the commit (EndTxn answered), which is when the producer
// knows it is written and a read_committed consumer may see it (once the
// markers follow). A failed commit fails every record of the transaction.
//
// The log holds a COMMIT marker per partition of each transaction beside
// the records, so end offsets advance by records + markers; the producers
// count the markers they caused (one per partition a committed
// transaction wrote to) and the last offset of a record per partition,
// which is where a consumer stops (kgo hands out no marker, so reading
// "to the end offset" would never end).

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Isolation levels of --isolation, as Kafka's isolation.level.
const (
	IsolationReadUncommitted = "read_uncommitted"
	IsolationReadCommitted   = "read_committed"
)

// maxTransactionRecords bounds --transaction-records: far beyond what
// one transaction should hold, and within what a producer's pending list
// keeps in memory.
const maxTransactionRecords = 10_000_000

// Transactional reports whether the producers use transactions.
func (c Config) Transactional() bool { return c.TransactionalID != "" }

// validateTxn checks the transaction and isolation options.
func (c Config) validateTxn() error {
	switch c.Isolation {
	case IsolationReadUncommitted, IsolationReadCommitted:
	default:
		return usagef("--isolation %q: want read_uncommitted or read_committed", c.Isolation)
	}
	switch {
	case c.TransactionRecords != 0 && !c.Transactional():
		return usagef("--transaction-records needs --transactional-id")
	case !c.Transactional():
		return nil
	case c.Workload == WorkloadConsume:
		return usagef("--transactional-id applies to the produce and e2e workloads (the consume workload's preload is not transactional)")
	case c.TransactionRecords < 1 || c.TransactionRecords > maxTransactionRecords:
		return usagef("--transaction-records %d: must be 1..%d with --transactional-id", c.TransactionRecords, maxTransactionRecords)
	case !c.Idempotent || c.Acks != AcksAll:
		return usagef("--transactional-id needs an idempotent producer with --acks=all")
	case len(c.TransactionalID) > 200:
		return usagef("--transactional-id prefix up to 200 characters")
	}
	return nil
}

// txnOpts are producer i's transactional options, none without
// --transactional-id.
func (c Config) txnOpts(i int) []kgo.Opt {
	if !c.Transactional() {
		return nil
	}
	return []kgo.Opt{kgo.TransactionalID(fmt.Sprintf("%s-%d", c.TransactionalID, i))}
}

// isolationOpts are the consumers' isolation level.
func (c Config) isolationOpts() []kgo.Opt {
	if c.Isolation == IsolationReadCommitted {
		return []kgo.Opt{kgo.FetchIsolationLevel(kgo.ReadCommitted())}
	}
	return nil
}

// pendingRecord is an acknowledged record of the open transaction.
type pendingRecord struct {
	due      time.Time
	size     int
	measured bool
}

// txnState is a transactional producer's open transaction and what its
// committed ones left in the log. Guarded by producer.mu (the promises
// and the run loop both reach it).
type txnState struct {
	every   int // records per transaction
	open    bool
	sent    int // records produced in the open transaction
	pending []pendingRecord
	parts   map[int32]bool // partitions the open transaction wrote to
	// markers: COMMIT markers of the committed transactions (one per
	// partition each); last: per partition, the offset after the last
	// acknowledged record.
	markers int64
	last    map[int32]int64
}

func newTxnState(every int) *txnState {
	return &txnState{every: every, parts: map[int32]bool{}, last: map[int32]int64{}}
}

// acked holds back a transactional record's count until its commit;
// called from the record's promise.
func (p *producer) acked(s *slot, r *kgo.Record) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.txn
	t.pending = append(t.pending, pendingRecord{due: s.due, size: len(r.Value), measured: s.measured})
	t.parts[r.Partition] = true
	t.last[r.Partition] = max(t.last[r.Partition], r.Offset+1)
}

// beforeProduce opens a transaction when none is.
func (p *producer) beforeProduce() error {
	if p.txn == nil || p.txn.open {
		return nil
	}
	if err := p.cl.BeginTransaction(); err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	p.txn.open, p.txn.sent = true, 0
	return nil
}

// afterProduce commits once the transaction holds its records.
func (p *producer) afterProduce(ctx context.Context) error {
	if p.txn == nil {
		return nil
	}
	p.txn.sent++
	if p.txn.sent < p.txn.every {
		return nil
	}
	return p.commit(ctx)
}

// commit flushes the open transaction's records and commits it, then
// counts them (or fails them all).
func (p *producer) commit(ctx context.Context) error {
	t := p.txn
	if t == nil || !t.open {
		return nil
	}
	t.open = false
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deliveryTimeout+5*time.Second)
	defer cancel()
	err := p.cl.Flush(fctx)
	if err == nil {
		err = p.cl.EndTransaction(fctx, kgo.TryCommit)
	}
	now := p.clock.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range t.pending {
		if err != nil {
			p.rec.Error()
		} else {
			p.rec.RecordAt(now.Sub(r.due), r.size, r.measured)
		}
	}
	if err == nil {
		t.markers += int64(len(t.parts))
	}
	t.pending = t.pending[:0]
	clear(t.parts)
	if err != nil {
		err = fmt.Errorf("commit transaction: %w", err)
		if p.firstErr == nil {
			p.firstErr = err
		}
	}
	return err
}

// txnTotals are what the run's transactional producers left in the log.
type txnTotals struct {
	markers int64
	last    map[int32]int64 // per partition, the offset after the last record
}

func (t *txnTotals) add(s *txnState) {
	t.markers += s.markers
	if t.last == nil {
		t.last = map[int32]int64{}
	}
	for p, o := range s.last {
		t.last[p] = max(t.last[p], o)
	}
}

// dataEnds are where consumers of a transactional run stop: after each
// partition's last record, or at from where the run wrote nothing.
func (t *txnTotals) dataEnds(from map[int32]int64) map[int32]int64 {
	ends := make(map[int32]int64, len(from))
	for p, o := range from {
		ends[p] = max(o, t.last[p])
	}
	return ends
}

// awaitMarkers waits, within cfg.Timeout, until the end offsets count
// every record and COMMIT marker of the run: EndTxn answers once the
// commit is decided and the markers follow (in Kafka too), so end offsets
// read at once may lack the last ones.
func (r *run) awaitMarkers(ctx context.Context, start map[int32]int64, records int64) (map[int32]int64, error) {
	want := records + r.txn.markers
	deadline := time.Now().Add(r.cfg.Timeout)
	for {
		ends, err := r.adm.endOffsets(ctx, r.cfg, r.parts)
		if err != nil || sumDelta(start, ends) >= want || time.Now().After(deadline) {
			return ends, err
		}
		select {
		case <-ctx.Done():
			return ends, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
