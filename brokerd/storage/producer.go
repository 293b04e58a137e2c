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
// Invariant: 1 <= n <= producerWindow; batches[(head+n-1)%window] is the
// newest batch.
type producerEntry struct {
	epoch         int16
	batches       [producerWindow]batchMeta
	head, n       int
	lastTimestamp int64 // max timestamp of the newest batch (expiration)
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
	if e == nil || e.n == 0 {
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

// update records an appended batch, live or replayed from the log. A new
// epoch resets the producer's window.
func (p producers) update(h *batch.Header) {
	if h.ProducerID < 0 {
		return
	}
	e := p[h.ProducerID]
	if e == nil {
		e = &producerEntry{epoch: h.ProducerEpoch}
		p[h.ProducerID] = e
	}
	if h.ProducerEpoch != e.epoch {
		*e = producerEntry{epoch: h.ProducerEpoch}
	}
	e.add(batchMeta{firstSeq: h.BaseSequence, lastSeq: h.LastSequence(), firstOffset: h.BaseOffset, lastOffset: h.LastOffset()})
	e.lastTimestamp = h.MaxTimestamp
}

// expire forgets producers whose newest batch is older than cutoff (ms).
func (p producers) expire(cutoff int64) int {
	n := 0
	for id, e := range p {
		if e.lastTimestamp < cutoff {
			delete(p, id)
			n++
		}
	}
	return n
}
