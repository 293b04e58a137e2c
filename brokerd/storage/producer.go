package storage

import (
	"fmt"
	"math"

	"github.com/kafki/kafki/brokerd/batch"
)

// producerWindow is how many recent batches per producer are remembered
// for duplicate detection (Kafka's max.in.flight.requests limit for
// idempotence).
const producerWindow = 5

// batchMeta identifies one appended batch of an idempotent producer.
type batchMeta struct {
	firstSeq, lastSeq       int32
	firstOffset, lastOffset int64
}

// producerEntry is the state of one idempotent producer.
// Invariant: 0 <= n <= producerWindow (0 only after a transaction marker
// bumped the epoch, KIP-890); batches[(head+n-1)%window] is the newest
// batch.
type producerEntry struct {
	epoch         int16
	batches       [producerWindow]batchMeta
	head, n       int
	lastTimestamp int64 // max timestamp of the newest batch (expiration)
	// ongoing: a transaction of this producer is open in this partition
	// (a transactional batch since the last marker); txnFirst is the
	// offset of its first batch. They pin the last stable offset.
	ongoing  bool
	txnFirst int64
}

// txnEnd is a transaction a marker completed.
type txnEnd struct {
	producerID  int64
	first, last int64 // first batch, the marker
	abort       bool
}

func (e *producerEntry) newest() *batchMeta {
	return &e.batches[(e.head+e.n-1)%producerWindow]
}

func (e *producerEntry) add(m batchMeta) {
	if e.n < producerWindow {
		e.batches[(e.head+e.n)%producerWindow] = m
		e.n++
		return
	}
	e.batches[e.head] = m
	e.head = (e.head + 1) % producerWindow
}

// producers maps producer id to state.
type producers map[int64]*producerEntry

func nextSequence(s int32) int32 {
	if s == math.MaxInt32 {
		return 0
	}
	return s + 1
}

// check decides whether a batch from an idempotent producer may be
// appended. It returns the original batch for a duplicate (a retry of one
// of the last producerWindow batches), or an error. A producer with no
// state is accepted at any sequence: its state may have expired or been
// lost with deleted segments, and Kafka (since 2.5, KIP-360) accepts it
// too rather than failing the producer.
func (p producers) check(h *batch.Header) (*batchMeta, error) {
	if h.ProducerID < 0 {
		return nil, nil
	}
	e := p[h.ProducerID]
	if e == nil {
		return nil, nil
	}
	if h.IsControl() {
		if h.ProducerEpoch < e.epoch {
			return nil, fmt.Errorf("%w: marker for producer %d epoch %d, current %d", ErrInvalidProducerEpoch, h.ProducerID, h.ProducerEpoch, e.epoch)
		}
		return nil, nil
	}
	if e.ongoing && !h.IsTransactional() && h.ProducerEpoch == e.epoch {
		return nil, fmt.Errorf("%w: producer %d has an open transaction, batch is not transactional", ErrInvalidTxnState, h.ProducerID)
	}
	if e.n == 0 {
		if h.ProducerEpoch < e.epoch {
			return nil, fmt.Errorf("%w: producer %d epoch %d, current %d", ErrInvalidProducerEpoch, h.ProducerID, h.ProducerEpoch, e.epoch)
		}
		return nil, nil
	}
	switch {
	case h.ProducerEpoch < e.epoch:
		return nil, fmt.Errorf("%w: producer %d epoch %d, current %d", ErrInvalidProducerEpoch, h.ProducerID, h.ProducerEpoch, e.epoch)
	case h.ProducerEpoch > e.epoch:
		if h.BaseSequence != 0 {
			return nil, fmt.Errorf("%w: producer %d new epoch %d must start at sequence 0, got %d", ErrOutOfOrderSequence, h.ProducerID, h.ProducerEpoch, h.BaseSequence)
		}
		return nil, nil
	}
	last := h.LastSequence()
	for i := 0; i < e.n; i++ {
		m := &e.batches[(e.head+i)%producerWindow]
		if m.firstSeq == h.BaseSequence && m.lastSeq == last {
			return m, nil
		}
	}
	if want := nextSequence(e.newest().lastSeq); h.BaseSequence != want {
		return nil, fmt.Errorf("%w: producer %d epoch %d expected sequence %d, got %d", ErrOutOfOrderSequence, h.ProducerID, h.ProducerEpoch, want, h.BaseSequence)
	}
	return nil, nil
}

// checkEpoch refuses a batch of a fenced producer epoch, without looking
// at sequences (AppendOptions.Coordinator).
func (p producers) checkEpoch(h *batch.Header) error {
	if e := p[h.ProducerID]; h.ProducerID >= 0 && e != nil && h.ProducerEpoch < e.epoch {
		return fmt.Errorf("%w: producer %d epoch %d, current %d", ErrInvalidProducerEpoch, h.ProducerID, h.ProducerEpoch, e.epoch)
	}
	return nil
}

// update records an appended batch, live or replayed from the log. A new
// epoch resets the producer's window (an open transaction stays open:
// only a marker ends it). For a control batch, ctrl is its marker type;
// update then reports the transaction it completed, if one was open.
func (p producers) update(h *batch.Header, ctrl batch.ControlType) (txnEnd, bool) {
	if h.ProducerID < 0 {
		return txnEnd{}, false
	}
	e := p[h.ProducerID]
	if e == nil {
		e = &producerEntry{epoch: h.ProducerEpoch}
		p[h.ProducerID] = e
	}
	if h.IsControl() {
		return e.endTxn(h, ctrl)
	}
	if h.ProducerEpoch != e.epoch {
		*e = producerEntry{epoch: h.ProducerEpoch, ongoing: e.ongoing, txnFirst: e.txnFirst}
	}
	e.add(batchMeta{firstSeq: h.BaseSequence, lastSeq: h.LastSequence(), firstOffset: h.BaseOffset, lastOffset: h.LastOffset()})
	e.lastTimestamp = h.MaxTimestamp
	if h.IsTransactional() && !e.ongoing {
		e.ongoing, e.txnFirst = true, h.BaseOffset
	}
	return txnEnd{}, false
}

// endTxn applies a marker: the open transaction, if any, ends. A marker
// with a newer epoch (KIP-890 part 2 bumps it at every commit or abort)
// starts that epoch with an empty window: the next batch starts at
// sequence 0.
func (e *producerEntry) endTxn(h *batch.Header, ctrl batch.ControlType) (txnEnd, bool) {
	end := txnEnd{producerID: h.ProducerID, first: e.txnFirst, last: h.BaseOffset, abort: ctrl == batch.ControlAbort}
	was := e.ongoing
	if h.ProducerEpoch > e.epoch {
		*e = producerEntry{epoch: h.ProducerEpoch}
	}
	e.ongoing, e.txnFirst = false, 0
	e.lastTimestamp = max(e.lastTimestamp, h.MaxTimestamp)
	return end, was
}

// firstUnstable returns the smallest first offset of an open transaction.
func (p producers) firstUnstable() (int64, bool) {
	first, ok := int64(math.MaxInt64), false
	for _, e := range p {
		if e.ongoing && e.txnFirst < first {
			first, ok = e.txnFirst, true
		}
	}
	return first, ok
}

// expire forgets producers whose newest batch is older than cutoff (ms).
func (p producers) expire(cutoff int64) int {
	n := 0
	for id, e := range p {
		// A producer with an open transaction is kept: forgetting it
		// would release the last stable offset past uncommitted data.
		if e.lastTimestamp < cutoff && !e.ongoing {
			delete(p, id)
			n++
		}
	}
	return n
}
