package txn

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// State is a transaction's state, with the codes of Kafka's
// TransactionLogValue.transaction_status (kmsg.TransactionState).
type State int8

// Kafka's transaction states.
const (
	Empty             State = 0
	Ongoing           State = 1
	PrepareCommit     State = 2
	PrepareAbort      State = 3
	CompleteCommit    State = 4
	CompleteAbort     State = 5
	Dead              State = 6
	PrepareEpochFence State = 7
)

func (s State) String() string { return kmsg.TransactionState(s).String() }

// Open reports whether a transaction is under way in s: its partitions
// may hold records of it that no marker has ended yet.
func (s State) Open() bool { return s == Ongoing || s == PrepareCommit || s == PrepareAbort }

// NoProducerID and NoEpoch are Kafka's "none" producer id and epoch.
const (
	NoProducerID int64 = -1
	NoEpoch      int16 = -1
)

// exhaustedEpoch: an epoch at or above it cannot be bumped for the
// producer's own use any more (Kafka's TransactionMetadata
// isEpochExhausted: Short.MaxValue - 1, keeping one bump for markers).
const exhaustedEpoch = math.MaxInt16 - 1

func exhausted(epoch int16) bool { return epoch >= exhaustedEpoch }

// TV2 is the transaction version of KIP-890 part 2: the epoch is bumped
// at every EndTxn.
const TV2 int16 = 2

// Partition is a partition a transaction wrote to.
type Partition struct {
	Topic     string
	Partition int32
}

func comparePartitions(a, b Partition) int {
	if c := cmp.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	return cmp.Compare(a.Partition, b.Partition)
}

// Metadata is the coordinator's state of one transactional id. Values
// are immutable: transitions return a new Metadata.
type Metadata struct {
	ID         string // the transactional.id
	ProducerID int64
	Epoch      int16
	// LastEpoch is the epoch before InitProducerID's last bump, so that a
	// retry of that InitProducerID (the client never saw its answer) gets
	// the same epoch instead of being fenced (KIP-360). NoEpoch if none.
	LastEpoch int16
	// PrevProducerID is the producer id before the last rotation (an
	// exhausted epoch), NoProducerID if none: a retry that carries it is
	// answered, not fenced.
	PrevProducerID int64
	// NextProducerID is the producer id an EndTxn under TV2 handed out
	// because the epoch ran out; it takes over at Complete. NoProducerID
	// if none.
	NextProducerID int64
	TimeoutMs      int32 // transaction.timeout.ms the producer asked for
	State          State
	Partitions     []Partition // sorted, no duplicates; empty unless State.Open
	// StartMs is when the current (or last) transaction began, -1 in
	// Empty.
	StartMs      int64
	LastUpdateMs int64
	// TV is the transaction version the client uses (0, 1, or TV2),
	// learnt from its EndTxn.
	TV int16
}

// NewMetadata is the metadata of a transactional id seen for the first time:
// producer id pid, which InitProducerID then gives epoch 0.
func NewMetadata(id string, pid int64, timeoutMs int32, nowMs int64) Metadata {
	return Metadata{
		ID: id, ProducerID: pid, Epoch: NoEpoch, LastEpoch: NoEpoch,
		PrevProducerID: NoProducerID, NextProducerID: NoProducerID,
		TimeoutMs: timeoutMs, State: Empty, StartMs: -1, LastUpdateMs: nowMs,
	}
}

// clone copies m, its partitions included.
func (m Metadata) clone() Metadata {
	m.Partitions = slices.Clone(m.Partitions)
	return m
}

// Init is an InitProducerID's answer for a transactional id.
type Init struct {
	// Next is the metadata to write.
	Next Metadata
	// Aborting: an open transaction is being aborted first (Next is its
	// PrepareAbort at a bumped epoch, which fences the producer that
	// opened it). The client is answered CONCURRENT_TRANSACTIONS and
	// retries once the abort has completed; that retry bumps the epoch
	// again, for the caller.
	Aborting bool
}

// InitProducerID handles an InitProducerID request for m's id with
// timeoutMs; expectPID and expectEpoch are what the request says the
// producer holds (NoProducerID, NoEpoch: nothing, a new producer).
// newID allocates a producer id when the epoch is exhausted.
func (m Metadata) InitProducerID(timeoutMs int32, expectPID int64, expectEpoch int16, newID func() (int64, error), nowMs int64) (Init, error) {
	// Kafka's isValidProducerId: the metadata was just created, or the
	// request names the current producer id (its epoch is checked
	// below), or the previous one at an exhausted epoch (a retry of the
	// rotation, whose answer was lost).
	if expectPID != NoProducerID && m.Epoch != NoEpoch && expectPID != m.ProducerID &&
		!(expectPID == m.PrevProducerID && exhausted(expectEpoch)) {
		return Init{}, fmt.Errorf("%w: transactional id %q is held by producer %d, the request names %d", kerr.ProducerFenced, m.ID, m.ProducerID, expectPID)
	}
	switch m.State {
	case PrepareCommit, PrepareAbort:
		return Init{}, fmt.Errorf("%w: transactional id %q is completing a transaction (%s)", kerr.ConcurrentTransactions, m.ID, m.State)
	case Ongoing:
		next := m.fence(nowMs)
		next.State = PrepareAbort
		return Init{Next: next, Aborting: true}, nil
	case Empty, CompleteCommit, CompleteAbort:
	default:
		return Init{}, fmt.Errorf("%w: transactional id %q is %s", kerr.ConcurrentTransactions, m.ID, m.State)
	}
	next := m.clone()
	next.TimeoutMs, next.State, next.Partitions, next.StartMs, next.LastUpdateMs = timeoutMs, Empty, nil, -1, nowMs
	if exhausted(m.Epoch) && (expectEpoch == NoEpoch || expectEpoch == m.Epoch) {
		pid, err := newID()
		if err != nil {
			return Init{}, fmt.Errorf("transactional id %q: new producer id: %w", m.ID, err)
		}
		next.PrevProducerID, next.ProducerID, next.Epoch = m.ProducerID, pid, 0
		next.LastEpoch = NoEpoch
		if expectPID != NoProducerID {
			next.LastEpoch = m.Epoch
		}
		return Init{Next: next}, nil
	}
	next, err := m.bumpFor(next, expectEpoch)
	return Init{Next: next}, err
}

// bumpFor is next at the epoch an InitProducerID expecting expectEpoch
// gets: Kafka's prepareIncrementProducerEpoch, in its order.
func (m Metadata) bumpFor(next Metadata, expectEpoch int16) (Metadata, error) {
	fenced := fmt.Errorf("%w: transactional id %q: producer %d is at epoch %d, the request expects %d", kerr.ProducerFenced, m.ID, m.ProducerID, m.Epoch, expectEpoch)
	switch {
	case exhausted(m.Epoch) && expectEpoch != m.LastEpoch:
		return Metadata{}, fenced
	case exhausted(m.Epoch):
		// A retry of the bump that made the current epoch: the same
		// answer again.
	case expectEpoch == NoEpoch:
		next.Epoch, next.LastEpoch = m.Epoch+1, NoEpoch
	case m.Epoch == NoEpoch || expectEpoch == m.Epoch:
		next.Epoch, next.LastEpoch = m.Epoch+1, m.Epoch
	case expectEpoch == m.LastEpoch:
		// As above: a retry, answered with the current epoch.
	default:
		return Metadata{}, fenced
	}
	return next, nil
}

// fence returns m at a bumped epoch (the same one if exhausted, as
// Kafka's prepareFenceProducerEpoch), so that the producer holding it can
// write nothing more.
func (m Metadata) fence(nowMs int64) Metadata {
	next := m.clone()
	if !exhausted(m.Epoch) {
		next.Epoch = m.Epoch + 1
	}
	next.LastUpdateMs = nowMs
	return next
}

// checkProducer refuses a request for m whose producer id or epoch is
// not m's.
func (m Metadata) checkProducer(pid int64, epoch int16) error {
	switch {
	case pid != m.ProducerID:
		return fmt.Errorf("%w: transactional id %q is held by producer %d, not %d", kerr.InvalidProducerIDMapping, m.ID, m.ProducerID, pid)
	case epoch != m.Epoch:
		return fmt.Errorf("%w: transactional id %q: producer %d is at epoch %d, the request has %d", kerr.ProducerFenced, m.ID, pid, m.Epoch, epoch)
	}
	return nil
}

// AddPartitions adds parts to m's transaction, opening one if none is;
// changed is false when every partition is in it already (nothing to
// write).
func (m Metadata) AddPartitions(pid int64, epoch int16, parts []Partition, nowMs int64) (next Metadata, changed bool, err error) {
	if err := m.checkProducer(pid, epoch); err != nil {
		return Metadata{}, false, err
	}
	switch m.State {
	case PrepareCommit, PrepareAbort:
		return Metadata{}, false, fmt.Errorf("%w: transactional id %q is completing a transaction (%s)", kerr.ConcurrentTransactions, m.ID, m.State)
	case Ongoing:
		if containsAll(m.Partitions, parts) {
			return m, false, nil
		}
	case Empty, CompleteCommit, CompleteAbort:
	default:
		return Metadata{}, false, fmt.Errorf("%w: transactional id %q is %s", kerr.ConcurrentTransactions, m.ID, m.State)
	}
	next = m.clone()
	if m.State != Ongoing {
		next.State, next.Partitions, next.StartMs = Ongoing, nil, nowMs
	}
	next.Partitions = union(next.Partitions, parts)
	next.LastUpdateMs = nowMs
	return next, true, nil
}

// Ended is an EndTxn's answer.
type Ended struct {
	// Next is the metadata to write; Done: nothing to write, the
	// transaction had already ended so (a retry of an EndTxn whose answer
	// was lost).
	Next Metadata
	Done bool
	// ProducerID and Epoch are what the producer uses next (EndTxn v5+
	// under TV2, where every EndTxn bumps the epoch).
	ProducerID int64
	Epoch      int16
}

// EndTxn handles an EndTxn (commit or abort) from producer pid at epoch
// using transaction version tv. newID allocates a producer id when a TV2
// bump exhausts the epoch.
func (m Metadata) EndTxn(pid int64, epoch int16, commit bool, tv int16, newID func() (int64, error), nowMs int64) (Ended, error) {
	if tv >= TV2 {
		return m.endTxnV2(pid, epoch, commit, newID, nowMs)
	}
	if err := m.checkProducer(pid, epoch); err != nil {
		return Ended{}, err
	}
	want, done := PrepareAbort, CompleteAbort
	if commit {
		want, done = PrepareCommit, CompleteCommit
	}
	switch m.State {
	case Ongoing:
		next := m.clone()
		next.State, next.LastUpdateMs, next.TV = want, nowMs, tv
		return Ended{Next: next, ProducerID: m.ProducerID, Epoch: m.Epoch}, nil
	case done:
		return Ended{Next: m, Done: true, ProducerID: m.ProducerID, Epoch: m.Epoch}, nil
	case want:
		return Ended{}, fmt.Errorf("%w: transactional id %q is completing it (%s)", kerr.ConcurrentTransactions, m.ID, m.State)
	}
	return Ended{}, m.invalidEnd(commit)
}

func (m Metadata) invalidEnd(commit bool) error {
	what := "abort"
	if commit {
		what = "commit"
	}
	return fmt.Errorf("%w: transactional id %q cannot %s in state %s", kerr.InvalidTxnState, m.ID, what, m.State)
}

// endTxnV2 is EndTxn under KIP-890 part 2: the epoch is bumped at every
// end, so a retry carries the epoch before the bump (or, after a
// rotation, the previous producer id at the exhausted epoch).
func (m Metadata) endTxnV2(pid int64, epoch int16, commit bool, newID func() (int64, error), nowMs int64) (Ended, error) {
	retry, err := m.v2Retry(pid, epoch)
	if err != nil {
		return Ended{}, err
	}
	want, done := PrepareAbort, CompleteAbort
	if commit {
		want, done = PrepareCommit, CompleteCommit
	}
	switch {
	case m.State == done && retry:
		return Ended{Next: m, Done: true, ProducerID: m.ProducerID, Epoch: m.Epoch}, nil
	case m.State == want && retry:
		return Ended{}, fmt.Errorf("%w: transactional id %q is completing it (%s)", kerr.ConcurrentTransactions, m.ID, m.State)
	case retry:
		return Ended{}, fmt.Errorf("%w: transactional id %q: epoch %d of producer %d ended already", kerr.ProducerFenced, m.ID, epoch, pid)
	case m.State == Ongoing,
		// An abort with nothing open still bumps the epoch: a TV2
		// client aborts to recover from an error before it added a
		// partition.
		!commit && (m.State == Empty || m.State == CompleteCommit || m.State == CompleteAbort):
		return m.prepareV2(want, newID, nowMs)
	}
	return Ended{}, m.invalidEnd(commit)
}

// v2Retry classifies a TV2 EndTxn's producer: the current one (false),
// a retry of an EndTxn whose bump it never saw (true), or neither (an
// error).
func (m Metadata) v2Retry(pid int64, epoch int16) (bool, error) {
	retryOnRotation := pid == m.PrevProducerID && exhausted(epoch) && m.Epoch == 0
	retryOnBump := pid == m.ProducerID && int32(epoch)+1 == int32(m.Epoch)
	retry := retryOnRotation || retryOnBump
	switch {
	case pid != m.ProducerID && !retryOnRotation:
		return false, fmt.Errorf("%w: transactional id %q is held by producer %d, not %d", kerr.InvalidProducerIDMapping, m.ID, m.ProducerID, pid)
	case !retry && epoch != m.Epoch:
		return false, fmt.Errorf("%w: transactional id %q: producer %d is at epoch %d, the request has %d", kerr.ProducerFenced, m.ID, pid, m.Epoch, epoch)
	}
	return retry, nil
}

// prepareV2 moves m to state want (PrepareCommit or PrepareAbort) at a
// bumped epoch, handing out a new producer id if that exhausts it.
func (m Metadata) prepareV2(want State, newID func() (int64, error), nowMs int64) (Ended, error) {
	next := m.clone()
	if m.State != Ongoing {
		next.Partitions, next.StartMs = nil, nowMs
	}
	next.State, next.LastUpdateMs, next.TV = want, nowMs, TV2
	next.LastEpoch, next.Epoch = m.Epoch, m.Epoch+1
	answerPID, answerEpoch := m.ProducerID, next.Epoch
	if exhausted(m.Epoch) {
		// The markers take the last epoch; the producer moves to a new
		// id, which Complete installs.
		id, err := newID()
		if err != nil {
			return Ended{}, fmt.Errorf("transactional id %q: new producer id: %w", m.ID, err)
		}
		next.NextProducerID, answerPID, answerEpoch = id, id, 0
	}
	return Ended{Next: next, ProducerID: answerPID, Epoch: answerEpoch}, nil
}

// Expired reports whether m's transaction has been open longer than its
// timeout at nowMs: the coordinator then aborts it (Abort).
func (m Metadata) Expired(nowMs int64) bool {
	return m.State == Ongoing && m.StartMs >= 0 && nowMs-m.StartMs > int64(m.TimeoutMs)
}

// Abort is the coordinator's own abort of m's open transaction (it timed
// out): PrepareAbort at a bumped epoch, which fences the producer.
func (m Metadata) Abort(nowMs int64) (Metadata, error) {
	if m.State != Ongoing {
		return Metadata{}, fmt.Errorf("%w: transactional id %q has no transaction to abort (%s)", kerr.InvalidTxnState, m.ID, m.State)
	}
	next := m.fence(nowMs)
	next.State = PrepareAbort
	return next, nil
}

// Complete is m once every partition of its transaction has its marker:
// CompleteCommit or CompleteAbort, no partitions, and under TV2 the
// producer id handed out by EndTxn installed.
func (m Metadata) Complete(nowMs int64) (Metadata, error) {
	next := m.clone()
	switch m.State {
	case PrepareCommit:
		next.State = CompleteCommit
	case PrepareAbort:
		next.State = CompleteAbort
	default:
		return Metadata{}, fmt.Errorf("%w: transactional id %q has no transaction completing (%s)", kerr.InvalidTxnState, m.ID, m.State)
	}
	next.Partitions, next.LastUpdateMs = nil, nowMs
	if m.NextProducerID != NoProducerID {
		next.PrevProducerID, next.ProducerID, next.Epoch = m.ProducerID, m.NextProducerID, 0
		next.LastEpoch, next.NextProducerID = NoEpoch, NoProducerID
	}
	return next, nil
}

// containsAll reports whether sorted set has every partition of parts.
func containsAll(set, parts []Partition) bool {
	for _, p := range parts {
		if _, ok := slices.BinarySearchFunc(set, p, comparePartitions); !ok {
			return false
		}
	}
	return true
}

// union returns sorted set with parts added, without duplicates.
func union(set, parts []Partition) []Partition {
	out := append(slices.Clone(set), parts...)
	slices.SortFunc(out, comparePartitions)
	return slices.Compact(out)
}
