package txn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kafki/kafki/brokerd/batch"
	"github.com/kafki/kafki/brokerd/groups"
)

// Log is one partition of __transaction_state as the coordinator uses
// it: Append and its wait as groups.Log's (the wait returns nil once the
// in-sync replicas have the records; an error wrapping
// kerr.NotCoordinator means another broker leads), Read whole batches
// from the one holding offset, Start and End the log's offsets.
type Log interface {
	Append(records []byte) (wait func(context.Context) error, err error)
	Read(offset int64, maxBytes int) ([]byte, error)
	Start() int64
	End() int64
}

// Marker is the end of one transaction to be written to its partitions.
type Marker struct {
	ProducerID int64
	Epoch      int16
	Commit     bool
	// CoordinatorEpoch is the leader epoch of the __transaction_state
	// partition the coordinator serves the id from: partition leaders
	// refuse markers from an older coordinator (Kafka's
	// TRANSACTION_COORDINATOR_FENCED).
	CoordinatorEpoch int32
	Partitions       []Partition
}

// Markers writes transaction markers (WriteTxnMarkers to the leader of
// each partition). Write returns nil once every partition has the marker
// or no longer exists, an error for the coordinator to retry later.
type Markers interface {
	Write(ctx context.Context, m Marker) error
}

// ProducerIDs allocates producer ids, unique in the cluster (the
// metastore's counter, which InitProducerId of idempotent producers uses
// too).
type ProducerIDs interface {
	Next(ctx context.Context) (int64, error)
}

// Config are the coordinator's settings, under Kafka's names.
type Config struct {
	// Partitions is transaction.state.log.num.partitions.
	Partitions int32
	// MaxTimeout is transaction.max.timeout.ms: the longest
	// transaction.timeout.ms a producer may ask for.
	MaxTimeout time.Duration
	// WriteTimeout bounds a write of transaction state waiting for the
	// partition's in-sync replicas.
	WriteTimeout time.Duration
	// MarkerBackoff is the pause between attempts to write a
	// transaction's markers.
	MarkerBackoff time.Duration
}

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{Partitions: 50, MaxTimeout: 15 * time.Minute, WriteTimeout: 5 * time.Second, MarkerBackoff: 100 * time.Millisecond}
}

// loadReadBytes is how much of the log one read of a load asks for.
const loadReadBytes = 1 << 20

// Coordinator coordinates the transactional ids of the partitions of
// __transaction_state this broker leads (Lead) until it resigns them.
// Safe for concurrent use.
//
// A transition is decided under its shard's lock, written to the
// partition with the entry marked pending (other requests for the id
// answer CONCURRENT_TRANSACTIONS meanwhile), and installed only once the
// in-sync replicas have it, as Kafka's coordinator does. A transaction
// that reached PrepareCommit or PrepareAbort has its markers written in
// the background and is then completed; a coordinator that loads a
// partition resumes the markers of every transaction it finds prepared.
type Coordinator struct {
	cfg     Config
	ids     ProducerIDs
	markers Markers
	log     *slog.Logger
	now     func() time.Time

	// bg is cancelled by Close; background marker writers run under it.
	bg     context.Context
	stop   context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	shards map[int32]*shard // guarded by mu: partitions led, loading or loaded
}

// shard is one led partition of __transaction_state and its ids.
type shard struct {
	idx   int32
	epoch int32 // the partition's leader epoch: the coordinator epoch
	lg    Log
	// ctx ends when the shard is resigned (or the coordinator closed):
	// the markers and completions it has in flight stop, so a deposed
	// coordinator does not keep writing for a partition it lost.
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	loaded bool              // guarded by mu; requests wait for it (COORDINATOR_LOAD_IN_PROGRESS)
	gone   bool              // guarded by mu: resigned; every write it has in flight is void
	txns   map[string]*entry // guarded by mu
}

// entry is one transactional id's installed state and whether a write of
// its next state is in flight.
type entry struct {
	m       Metadata
	pending bool
}

// New returns a coordinator leading no partition yet.
func New(cfg Config, ids ProducerIDs, markers Markers, log *slog.Logger, now func() time.Time) *Coordinator {
	bg, stop := context.WithCancel(context.Background())
	return &Coordinator{cfg: cfg, ids: ids, markers: markers, log: log, now: now, bg: bg, stop: stop, shards: map[int32]*shard{}}
}

// Close stops the background work (marker writers, which a new
// coordinator resumes from the log) and waits for it.
func (c *Coordinator) Close() {
	c.stop()
	c.wg.Wait()
}

// PartitionFor is the partition of __transaction_state that coordinates
// id, with Kafka's hash (the same as for group ids).
func (c *Coordinator) PartitionFor(id string) int32 { return groups.PartitionFor(id, c.cfg.Partitions) }

// Lead makes this coordinator serve partition at leader epoch from lg:
// it replays the log (requests for its ids answer
// COORDINATOR_LOAD_IN_PROGRESS meanwhile) and resumes the markers of the
// transactions it finds prepared. It returns once loaded.
func (c *Coordinator) Lead(partition, epoch int32, lg Log) error {
	ctx, cancel := context.WithCancel(c.bg)
	s := &shard{idx: partition, epoch: epoch, lg: lg, txns: map[string]*entry{}, ctx: ctx, cancel: cancel}
	c.mu.Lock()
	if old := c.shards[partition]; old != nil {
		old.resign()
	}
	c.shards[partition] = s
	c.mu.Unlock()

	txns, skipped, err := load(lg)
	if err != nil {
		c.Resign(partition)
		return fmt.Errorf("load __transaction_state-%d: %w", partition, err)
	}
	if skipped > 0 {
		c.log.Warn("skipped unreadable __transaction_state records", "partition", partition, "records", skipped)
	}
	s.mu.Lock()
	if s.gone {
		s.mu.Unlock()
		return nil
	}
	for id, m := range txns {
		s.txns[id] = &entry{m: m}
		if m.State == PrepareCommit || m.State == PrepareAbort {
			c.finish(s, m)
		}
	}
	s.loaded = true
	s.mu.Unlock()
	c.log.Info("coordinating transactions", "partition", partition, "coordinator.epoch", epoch, "transactional.ids", len(txns))
	return nil
}

// Resign stops serving partition: its ids answer NOT_COORDINATOR, and
// writes in flight are not installed.
func (c *Coordinator) Resign(partition int32) {
	c.mu.Lock()
	s := c.shards[partition]
	delete(c.shards, partition)
	c.mu.Unlock()
	if s != nil {
		s.resign()
	}
}

func (s *shard) resign() {
	s.mu.Lock()
	s.gone = true
	s.txns = map[string]*entry{}
	s.mu.Unlock()
	s.cancel()
}

// load replays lg: the last record of each id wins, a tombstone removes
// it. Records that do not decode are counted and skipped: the bytes are
// untrusted, and one bad record must not take every other id down.
func load(lg Log) (map[string]Metadata, int, error) {
	txns := map[string]Metadata{}
	skipped := 0
	readAt := func(off int64) ([]byte, error) { return lg.Read(off, loadReadBytes) }
	err := batch.Scan(readAt, lg.Start(), lg.End(), func(h *batch.Header, raw []byte) error {
		if h.IsControl() {
			return nil
		}
		err := batch.ForEachRecord(raw, h, batch.DecodeOptions{}, func(r *batch.Record) error {
			m, deleted, err := Decode(r.Key, r.Value)
			switch {
			case err != nil:
				skipped++
			case deleted:
				delete(txns, m.ID)
			default:
				txns[m.ID] = m
			}
			return nil
		})
		if err != nil {
			skipped++ // the whole batch: its records do not decode
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return txns, skipped, nil
}

// serve returns id's shard locked, or the error to answer.
func (c *Coordinator) serve(id string) (*shard, error) {
	if id == "" {
		return nil, fmt.Errorf("%w: empty transactional id", kerr.InvalidRequest)
	}
	p := c.PartitionFor(id)
	c.mu.Lock()
	s := c.shards[p]
	c.mu.Unlock()
	if s == nil {
		return nil, fmt.Errorf("%w: __transaction_state-%d is not led here", kerr.NotCoordinator, p)
	}
	s.mu.Lock()
	switch {
	case s.gone:
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: __transaction_state-%d is not led here", kerr.NotCoordinator, p)
	case !s.loaded:
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: __transaction_state-%d", kerr.CoordinatorLoadInProgress, p)
	}
	return s, nil
}

// write makes next e's state: appended to the shard's log, committed by
// its in-sync replicas, then installed. Called with s locked; returns
// with it unlocked.
func (c *Coordinator) write(ctx context.Context, s *shard, e *entry, next Metadata) error {
	b := batch.Build([]batch.Record{{Key: Key(next.ID), Value: next.Value()}}, batch.BuildOptions{BaseTimestamp: c.now().UnixMilli()})
	wait, err := s.lg.Append(b)
	if err != nil {
		s.mu.Unlock()
		return notCoordinator(err)
	}
	e.pending = true
	s.mu.Unlock()

	wctx, cancel := context.WithTimeout(ctx, c.cfg.WriteTimeout)
	err = wait(wctx)
	cancel()

	s.mu.Lock()
	defer s.mu.Unlock()
	e.pending = false
	switch {
	case err != nil:
		return notCoordinator(err)
	case s.gone || s.txns[next.ID] != e:
		return fmt.Errorf("%w: __transaction_state-%d moved during the write", kerr.NotCoordinator, s.idx)
	}
	if next.State == Dead {
		delete(s.txns, next.ID)
	} else {
		e.m = next
	}
	return nil
}

// notCoordinator makes a failed write answer NOT_COORDINATOR (the client
// looks the coordinator up again and retries) unless it already carries
// a Kafka error.
func notCoordinator(err error) error {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return err
	}
	return fmt.Errorf("%w: %w", kerr.NotCoordinator, err)
}

// entryFor returns id's entry; nil with an error unless it exists.
func (s *shard) entryFor(id string) (*entry, error) {
	e := s.txns[id]
	switch {
	case e == nil:
		return nil, fmt.Errorf("%w: transactional id %q has no producer (InitProducerId first)", kerr.InvalidProducerIDMapping, id)
	case e.pending:
		return nil, fmt.Errorf("%w: transactional id %q is being updated", kerr.ConcurrentTransactions, id)
	}
	return e, nil
}

// InitProducerID gives transactional id id a producer id and epoch,
// fencing any producer that held it (InitProducerId). expectPID and
// expectEpoch are what the producer says it holds (KIP-360), NoProducerID
// and NoEpoch if nothing.
func (c *Coordinator) InitProducerID(ctx context.Context, id string, timeoutMs int32, expectPID int64, expectEpoch int16) (int64, int16, error) {
	if timeoutMs <= 0 || time.Duration(timeoutMs)*time.Millisecond > c.cfg.MaxTimeout {
		return 0, 0, fmt.Errorf("%w: %d ms, transaction.max.timeout.ms is %d", kerr.InvalidTransactionTimeout, timeoutMs, c.cfg.MaxTimeout.Milliseconds())
	}
	s, err := c.serve(id)
	if err != nil {
		return 0, 0, err
	}
	if s.txns[id] == nil {
		// Allocate outside the lock: it is a round trip to the store.
		s.mu.Unlock()
		pid, err := c.ids.Next(ctx)
		if err != nil {
			return 0, 0, fmt.Errorf("%w: allocate a producer id: %w", kerr.CoordinatorNotAvailable, err)
		}
		if s, err = c.serve(id); err != nil {
			return 0, 0, err
		}
		if s.txns[id] == nil {
			s.txns[id] = &entry{m: NewMetadata(id, pid, timeoutMs, c.now().UnixMilli())}
		}
	}
	e, err := s.entryFor(id)
	if err != nil {
		s.mu.Unlock()
		return 0, 0, err
	}
	in, err := e.m.InitProducerID(timeoutMs, expectPID, expectEpoch, c.nextID, c.now().UnixMilli())
	if err != nil {
		s.mu.Unlock()
		return 0, 0, err
	}
	if err := c.write(ctx, s, e, in.Next); err != nil {
		return 0, 0, err
	}
	if in.Aborting {
		s.mu.Lock()
		c.finish(s, in.Next)
		s.mu.Unlock()
		return 0, 0, fmt.Errorf("%w: transactional id %q: aborting the transaction of the producer it fenced", kerr.ConcurrentTransactions, id)
	}
	return in.Next.ProducerID, in.Next.Epoch, nil
}

// nextID allocates a producer id for a rotation, decided under a shard's
// lock; it is rare (once per 32767 epochs), so the round trip is taken
// there.
func (c *Coordinator) nextID() (int64, error) { return c.ids.Next(c.bg) }

// AddPartitions adds parts to the transaction of id held by producer pid
// at epoch (AddPartitionsToTxn; AddOffsetsToTxn adds the group's
// __consumer_offsets partition the same way).
func (c *Coordinator) AddPartitions(ctx context.Context, id string, pid int64, epoch int16, parts []Partition) error {
	s, err := c.serve(id)
	if err != nil {
		return err
	}
	e, err := s.entryFor(id)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	next, changed, err := e.m.AddPartitions(pid, epoch, parts, c.now().UnixMilli())
	if err != nil || !changed {
		s.mu.Unlock()
		return err
	}
	return c.write(ctx, s, e, next)
}

// Verify reports whether every partition of parts is in the open
// transaction of id held by pid at epoch: KIP-890 part 1's check, made by
// a partition leader before it appends a transactional batch, so that a
// hanging transaction cannot start on a partition the coordinator does
// not know about.
func (c *Coordinator) Verify(id string, pid int64, epoch int16, parts []Partition) error {
	s, err := c.serve(id)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	e := s.txns[id]
	if e == nil {
		return fmt.Errorf("%w: transactional id %q has no producer", kerr.InvalidProducerIDMapping, id)
	}
	if err := e.m.checkProducer(pid, epoch); err != nil {
		return err
	}
	if e.m.State != Ongoing || !containsAll(e.m.Partitions, parts) {
		return fmt.Errorf("%w: transactional id %q: the partitions are not in its open transaction", kerr.InvalidTxnState, id)
	}
	return nil
}

// EndTxn commits or aborts the transaction of id held by pid at epoch
// (EndTxn). It returns once the decision is durable; the markers are
// written after, in the background, and until they are the id answers
// CONCURRENT_TRANSACTIONS. It returns the producer id and epoch the
// producer uses next (bumped under transaction version 2).
func (c *Coordinator) EndTxn(ctx context.Context, id string, pid int64, epoch int16, commit bool, tv int16) (int64, int16, error) {
	s, err := c.serve(id)
	if err != nil {
		return 0, 0, err
	}
	e, err := s.entryFor(id)
	if err != nil {
		s.mu.Unlock()
		return 0, 0, err
	}
	end, err := e.m.EndTxn(pid, epoch, commit, tv, c.nextID, c.now().UnixMilli())
	if err != nil || end.Done {
		s.mu.Unlock()
		return end.ProducerID, end.Epoch, err
	}
	if err := c.write(ctx, s, e, end.Next); err != nil {
		return 0, 0, err
	}
	s.mu.Lock()
	c.finish(s, end.Next)
	s.mu.Unlock()
	return end.ProducerID, end.Epoch, nil
}

// finish writes the markers of prepared transaction m, then completes it,
// in the background, retrying until done or the shard is resigned (its
// next coordinator resumes from the log). Called with s locked.
func (c *Coordinator) finish(s *shard, m Metadata) {
	if s.gone {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		mk := Marker{ProducerID: m.ProducerID, Epoch: m.Epoch, Commit: m.State == PrepareCommit, CoordinatorEpoch: s.epoch, Partitions: m.Partitions}
		for {
			if s.ctx.Err() != nil || s.isGone() {
				return
			}
			err := c.markers.Write(s.ctx, mk)
			if err == nil {
				break
			}
			c.log.Debug("transaction markers not written yet; retrying", "transactional.id", m.ID, "err", err)
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(c.cfg.MarkerBackoff):
			}
		}
		for {
			s.mu.Lock()
			e := s.txns[m.ID]
			if s.gone || e == nil || e.m.State != m.State || e.m.Epoch != m.Epoch || e.m.ProducerID != m.ProducerID {
				s.mu.Unlock()
				return
			}
			if e.pending {
				// InitProducerID or a timeout sweep is writing; they see
				// the prepared state and refuse, so this is brief.
				s.mu.Unlock()
				select {
				case <-s.ctx.Done():
					return
				case <-time.After(c.cfg.MarkerBackoff):
				}
				continue
			}
			done, err := e.m.Complete(c.now().UnixMilli())
			if err != nil {
				s.mu.Unlock()
				c.log.Error("cannot complete a transaction", "transactional.id", m.ID, "err", err)
				return
			}
			if err := c.write(s.ctx, s, e, done); err != nil {
				c.log.Warn("transaction completion not written; the next coordinator completes it", "transactional.id", m.ID, "err", err)
			}
			return
		}
	}()
}

func (s *shard) isGone() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gone
}

// AbortExpired aborts every open transaction past its timeout, fencing
// its producer (Kafka's transaction.abort.timed.out.transaction.cleanup
// task); it returns how many it started to abort.
func (c *Coordinator) AbortExpired(ctx context.Context) int {
	c.mu.Lock()
	shards := make([]*shard, 0, len(c.shards))
	for _, s := range c.shards {
		shards = append(shards, s)
	}
	c.mu.Unlock()
	now := c.now().UnixMilli()
	n := 0
	for _, s := range shards {
		s.mu.Lock()
		var expired []string
		for id, e := range s.txns {
			if s.loaded && !e.pending && e.m.Expired(now) {
				expired = append(expired, id)
			}
		}
		s.mu.Unlock()
		for _, id := range expired {
			s.mu.Lock()
			e := s.txns[id]
			if s.gone || e == nil || e.pending || !e.m.Expired(now) {
				s.mu.Unlock()
				continue
			}
			next, err := e.m.Abort(now)
			if err != nil {
				s.mu.Unlock()
				continue
			}
			if err := c.write(ctx, s, e, next); err != nil {
				c.log.Warn("abort of an expired transaction not written", "transactional.id", id, "err", err)
				continue
			}
			c.log.Info("aborting a transaction past its timeout", "transactional.id", id, "producer.id", next.ProducerID, "fenced.epoch", next.Epoch-1)
			s.mu.Lock()
			c.finish(s, next)
			s.mu.Unlock()
			n++
		}
	}
	return n
}

// Describe returns id's metadata (DescribeTransactions).
func (c *Coordinator) Describe(id string) (Metadata, error) {
	s, err := c.serve(id)
	if err != nil {
		return Metadata{}, err
	}
	defer s.mu.Unlock()
	e := s.txns[id]
	if e == nil {
		return Metadata{}, fmt.Errorf("%w: transactional id %q", kerr.TransactionalIDNotFound, id)
	}
	return e.m.clone(), nil
}

// List returns the metadata of every id this coordinator serves, sorted
// by id (ListTransactions filters it).
func (c *Coordinator) List() []Metadata {
	c.mu.Lock()
	shards := make([]*shard, 0, len(c.shards))
	for _, s := range c.shards {
		shards = append(shards, s)
	}
	c.mu.Unlock()
	var out []Metadata
	for _, s := range shards {
		s.mu.Lock()
		if s.loaded && !s.gone {
			for _, e := range s.txns {
				out = append(out, e.m.clone())
			}
		}
		s.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Loaded reports whether partition is led here and loaded.
func (c *Coordinator) Loaded(partition int32) bool {
	c.mu.Lock()
	s := c.shards[partition]
	c.mu.Unlock()
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loaded && !s.gone
}
