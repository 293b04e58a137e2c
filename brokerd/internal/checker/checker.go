package checker

import (
	"fmt"
	"sync"
)

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func (tp TopicPartition) String() string { return fmt.Sprintf("%s/%d", tp.Topic, tp.Partition) }

// Observed is one record of a final read.
type Observed struct {
	Offset int64
	Value  string
}

// sendState is what the producer knows about a send.
type sendState uint8

const (
	// statePending: sent, no outcome reported yet; treated as indeterminate.
	statePending sendState = iota
	stateAcked
	stateFailed // definitely not written
	stateIndeterminate
)

type send struct {
	tp     TopicPartition
	hasTP  bool // false when Failed was the first thing we heard of the value
	state  sendState
	offset int64 // valid when state == stateAcked
}

// obsKey is one record as seen by someone: a value at an offset.
type obsKey struct {
	tp     TopicPartition
	offset int64
	value  string
}

// maxReaders bounds how many distinct reader names an observation keeps for
// its report: the names are for debugging, and a test with many readers
// should not pay memory per reader per record.
const maxReaders = 8

// sightings are the readers that polled one obsKey.
type sightings struct {
	readers []string // distinct, at most maxReaders: the first ones to poll it
	count   int      // polls, including repeats by the same reader
}

func (s *sightings) add(reader string) {
	s.count++
	for _, r := range s.readers {
		if r == reader {
			return
		}
	}
	if len(s.readers) < maxReaders {
		s.readers = append(s.readers, reader)
	}
}

// cursorKey is one reader's position in one partition. Final reads get
// their own cursors, so a reader may share a replica's name.
type cursorKey struct {
	reader string
	final  bool
	tp     TopicPartition
}

type cursor struct {
	last   int64 // last offset seen
	has    bool  // last is meaningful
	seeked bool  // a seek happened after last: the next offset only has to reach floor
	floor  int64 // seek target; negative if unknown
}

// finalLog is one replica's final read of one partition.
type finalLog struct {
	byOffset map[int64]string
	byValue  map[string][]int64
	end      int64 // highest offset read + 1: the final high watermark
}

func newFinalLog() *finalLog {
	return &finalLog{byOffset: map[int64]string{}, byValue: map[string][]int64{}}
}

func (f *finalLog) holds(offset int64, value string) bool {
	v, ok := f.byOffset[offset]
	return ok && v == value
}

// Checker records a history of sends and reads and checks it. The zero
// value is not usable; call New.
type Checker struct {
	mu sync.Mutex

	sends map[string]*send
	// obs holds what non-final readers polled.
	obs     map[obsKey]*sightings
	cursors map[cursorKey]*cursor
	// finals holds final reads per partition, per replica.
	finals map[TopicPartition]map[string]*finalLog

	// found holds anomalies detected as events arrive (order-dependent
	// ones: non-monotonic polls, malformed histories); info holds gaps.
	found []Anomaly
	info  []Anomaly

	polled       int
	finalRecords int
}

// New returns an empty Checker.
func New() *Checker {
	return &Checker{
		sends:   map[string]*send{},
		obs:     map[obsKey]*sightings{},
		cursors: map[cursorKey]*cursor{},
		finals:  map[TopicPartition]map[string]*finalLog{},
	}
}

// Sent records that a producer is about to send value to (topic,
// partition). Call it before the send, so that a consumer that sees the
// value before the acknowledgement arrives does not see an unknown value.
func (c *Checker) Sent(topic string, partition int32, value string) {
	tp := TopicPartition{topic, partition}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.sends[value]; ok {
		c.found = append(c.found, Anomaly{
			Kind: InvalidHistory, Topic: topic, Partition: partition, Offset: -1, Value: value,
			Detail: fmt.Sprintf("value sent twice (first to %s): values must be unique", s.tp),
		})
		return
	}
	c.sends[value] = &send{tp: tp, hasTP: true, state: statePending}
}

// Acked records that the send of value was acknowledged at offset. The
// partition given here wins over the one given to Sent (a partitioner may
// pick it late); a value acknowledged without a prior Sent is accepted.
func (c *Checker) Acked(topic string, partition int32, value string, offset int64) {
	tp := TopicPartition{topic, partition}
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.sends[value]
	if !ok {
		c.sends[value] = &send{tp: tp, hasTP: true, state: stateAcked, offset: offset}
		return
	}
	switch s.state {
	case stateAcked:
		if s.tp != tp || s.offset != offset {
			c.found = append(c.found, Anomaly{
				Kind: InconsistentOffset, Topic: topic, Partition: partition, Offset: offset, Value: value,
				Detail: fmt.Sprintf("acknowledged twice: at %s@%d and at %s@%d", s.tp, s.offset, tp, offset),
			})
		}
		return
	case stateFailed:
		c.found = append(c.found, Anomaly{
			Kind: InvalidHistory, Topic: topic, Partition: partition, Offset: offset, Value: value,
			Detail: "acknowledged after it was reported as definitely failed",
		})
		// Keep the stronger claim: an acknowledged write must be durable.
	}
	s.tp, s.hasTP, s.state, s.offset = tp, true, stateAcked, offset
}

// Failed records that the send of value did not succeed. definite means the
// producer knows the value was not written (e.g. a non-retriable error
// before it was sent); otherwise the outcome is indeterminate (timeout,
// connection lost) and the value may or may not appear.
func (c *Checker) Failed(value string, definite bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.sends[value]
	if !ok {
		s = &send{state: statePending}
		c.sends[value] = s
	}
	switch s.state {
	case stateAcked:
		if definite {
			c.found = append(c.found, Anomaly{
				Kind: InvalidHistory, Topic: s.tp.Topic, Partition: s.tp.Partition, Offset: s.offset, Value: value,
				Detail: "reported as definitely failed after it was acknowledged",
			})
		}
		// An acknowledgement outranks a later timeout (e.g. of a retry).
		return
	case stateFailed:
		return
	}
	if definite {
		s.state = stateFailed
	} else {
		s.state = stateIndeterminate
	}
}

// Polled records that reader received value at offset of (topic,
// partition). A reader must report its polls of one partition in the order
// it received them.
func (c *Checker) Polled(reader string, topic string, partition int32, offset int64, value string) {
	tp := TopicPartition{topic, partition}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.polled++
	k := obsKey{tp, offset, value}
	s := c.obs[k]
	if s == nil {
		s = &sightings{}
		c.obs[k] = s
	}
	s.add(reader)
	c.advance(cursorKey{reader, false, tp}, offset, value)
}

// Seeked records that reader moved its position in (topic, partition) to
// offset, so its next poll there may go backwards. Pass a negative offset
// when the new position is not known (a reset to earliest or latest); then
// any next offset is accepted.
func (c *Checker) Seeked(reader string, topic string, partition int32, offset int64) {
	k := cursorKey{reader, false, TopicPartition{topic, partition}}
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := c.cursors[k]
	if cur == nil {
		cur = &cursor{}
		c.cursors[k] = cur
	}
	cur.seeked, cur.floor = true, offset
}

// FinalRead records records read from (topic, partition) of replica, from
// the log start to its end, after the cluster healed. Use one replica name
// (e.g. "cluster") when reading through the cluster; use broker ids to
// compare replicas, which must then agree. Several calls for the same
// replica and partition append, in offset order.
func (c *Checker) FinalRead(replica string, topic string, partition int32, records []Observed) {
	tp := TopicPartition{topic, partition}
	c.mu.Lock()
	defer c.mu.Unlock()
	byReplica := c.finals[tp]
	if byReplica == nil {
		byReplica = map[string]*finalLog{}
		c.finals[tp] = byReplica
	}
	f := byReplica[replica]
	if f == nil {
		f = newFinalLog()
		byReplica[replica] = f
	}
	ck := cursorKey{replica, true, tp}
	for _, r := range records {
		c.finalRecords++
		if _, dup := f.byOffset[r.Offset]; !dup {
			// A second value at the same offset is caught by the cursor
			// (non-monotonic); keep the first for the cross checks.
			f.byOffset[r.Offset] = r.Value
			f.byValue[r.Value] = append(f.byValue[r.Value], r.Offset)
		}
		if r.Offset+1 > f.end {
			f.end = r.Offset + 1
		}
		c.advance(ck, r.Offset, r.Value)
	}
}

// advance moves a reader's cursor to offset, reporting a non-monotonic poll
// or an informational gap. c.mu must be held.
func (c *Checker) advance(k cursorKey, offset int64, value string) {
	cur := c.cursors[k]
	if cur == nil {
		cur = &cursor{}
		c.cursors[k] = cur
	}
	who := readerName(k.reader, k.final)
	switch {
	case cur.seeked:
		if cur.floor >= 0 && offset < cur.floor {
			c.found = append(c.found, Anomaly{
				Kind: NonMonotonic, Topic: k.tp.Topic, Partition: k.tp.Partition, Offset: offset, Value: value,
				Readers: []string{who},
				Detail:  fmt.Sprintf("%s polled offset %d after seeking to %d", who, offset, cur.floor),
			})
		}
	case cur.has && offset <= cur.last:
		c.found = append(c.found, Anomaly{
			Kind: NonMonotonic, Topic: k.tp.Topic, Partition: k.tp.Partition, Offset: offset, Value: value,
			Readers: []string{who},
			Detail:  fmt.Sprintf("%s polled offset %d after offset %d without seeking", who, offset, cur.last),
		})
	case cur.has && offset > cur.last+1:
		c.info = append(c.info, Anomaly{
			Kind: Gap, Topic: k.tp.Topic, Partition: k.tp.Partition, Offset: cur.last + 1, Value: value,
			Readers: []string{who},
			Detail:  fmt.Sprintf("%s skipped offsets %d..%d", who, cur.last+1, offset-1),
		})
	}
	cur.last, cur.has, cur.seeked = offset, true, false
}

// readerName is how a reader appears in anomaly details.
func readerName(name string, final bool) string {
	if final {
		return "final:" + name
	}
	return name
}
