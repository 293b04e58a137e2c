package txn

import (
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Record formats of __transaction_state, as Kafka's TransactionLog: the
// key is TransactionLogKey v0 (the transactional id), the value
// TransactionLogValue v1 (flexible, with KIP-890's producer ids and
// client transaction version as tagged fields) or, read only, v0. A
// transactional id that expired is a tombstone: a key with a null value.

// keyVersion and valueVersion are what Kafki writes; Decode reads value
// versions up to valueVersion.
const (
	keyVersion   int16 = 0
	valueVersion int16 = 1
)

// ErrBadRecord: a __transaction_state record Kafki cannot read. The
// coordinator skips it with a warning rather than guessing.
var ErrBadRecord = errors.New("unreadable __transaction_state record")

// Key is the record key of transactional id id.
func Key(id string) []byte {
	k := kmsg.NewTxnMetadataKey()
	k.Version, k.TransactionalID = keyVersion, id
	return k.AppendTo(nil)
}

// Value is m as a record value; nil (a tombstone) for Dead.
func (m Metadata) Value() []byte {
	if m.State == Dead {
		return nil
	}
	v := kmsg.NewTxnMetadataValue()
	v.Version = valueVersion
	v.ProducerID, v.ProducerEpoch, v.TimeoutMillis = m.ProducerID, m.Epoch, m.TimeoutMs
	v.State = kmsg.TransactionState(m.State)
	v.LastUpdateTimestamp, v.StartTimestamp = m.LastUpdateMs, m.StartMs
	v.PreviousProducerID, v.NextProducerID, v.ClientTransactionVersion = m.PrevProducerID, m.NextProducerID, m.TV
	// The last epoch is not in Kafka's schema (its coordinator rebuilds
	// it as "none" on load); NextProducerEpoch (KIP-939) is not used.
	for _, p := range m.Partitions {
		if n := len(v.Topics); n == 0 || v.Topics[n-1].Topic != p.Topic {
			t := kmsg.NewTxnMetadataValueTopic()
			t.Topic = p.Topic
			v.Topics = append(v.Topics, t)
		}
		t := &v.Topics[len(v.Topics)-1]
		t.Partitions = append(t.Partitions, p.Partition)
	}
	return v.AppendTo(nil)
}

// Decode reads a __transaction_state record: the transactional id and,
// unless the value is a tombstone (deleted), its metadata. Every field
// is checked: the bytes come from disk or a peer.
func Decode(key, value []byte) (m Metadata, deleted bool, err error) {
	var k kmsg.TxnMetadataKey
	if err := k.ReadFrom(key); err != nil {
		return Metadata{}, false, fmt.Errorf("%w: key: %v", ErrBadRecord, err)
	}
	if k.Version != keyVersion {
		return Metadata{}, false, fmt.Errorf("%w: key version %d, Kafki reads %d", ErrBadRecord, k.Version, keyVersion)
	}
	if k.TransactionalID == "" {
		return Metadata{}, false, fmt.Errorf("%w: empty transactional id", ErrBadRecord)
	}
	if value == nil {
		return Metadata{ID: k.TransactionalID, State: Dead}, true, nil
	}
	if len(value) < 2 {
		return Metadata{}, false, fmt.Errorf("%w: value of %d bytes", ErrBadRecord, len(value))
	}
	// A version from a newer Kafka is refused before decoding: its
	// schema is unknown, and reading it as ours would misplace fields.
	if ver := int16(value[0])<<8 | int16(value[1]); ver < 0 || ver > valueVersion {
		return Metadata{}, false, fmt.Errorf("%w: value version %d, Kafki reads up to %d", ErrBadRecord, ver, valueVersion)
	}
	var v kmsg.TxnMetadataValue
	if err := v.ReadFrom(value); err != nil {
		return Metadata{}, false, fmt.Errorf("%w: transactional id %q: value: %v", ErrBadRecord, k.TransactionalID, err)
	}
	m = Metadata{
		ID: k.TransactionalID, ProducerID: v.ProducerID, Epoch: v.ProducerEpoch, LastEpoch: NoEpoch,
		PrevProducerID: NoProducerID, NextProducerID: NoProducerID,
		TimeoutMs: v.TimeoutMillis, State: State(v.State), StartMs: v.StartTimestamp, LastUpdateMs: v.LastUpdateTimestamp,
	}
	if v.Version >= 1 {
		m.PrevProducerID, m.NextProducerID, m.TV = v.PreviousProducerID, v.NextProducerID, v.ClientTransactionVersion
	}
	for _, t := range v.Topics {
		for _, p := range t.Partitions {
			m.Partitions = append(m.Partitions, Partition{Topic: t.Topic, Partition: p})
		}
	}
	if err := m.check(); err != nil {
		return Metadata{}, false, fmt.Errorf("%w: transactional id %q: %v", ErrBadRecord, m.ID, err)
	}
	if m.State == PrepareEpochFence {
		// Kafka 3.x's intermediate state on the way to an abort; only
		// an abort may follow it.
		m.State = PrepareAbort
	}
	if !m.State.Open() {
		m.Partitions = nil
	}
	m.Partitions = union(nil, m.Partitions)
	return m, false, nil
}

// check validates decoded metadata.
func (m Metadata) check() error {
	switch {
	case m.State < Empty || m.State > PrepareEpochFence || m.State == Dead:
		return fmt.Errorf("state %d", m.State)
	case m.ProducerID < 0:
		return fmt.Errorf("producer id %d", m.ProducerID)
	case m.Epoch < NoEpoch:
		return fmt.Errorf("producer epoch %d", m.Epoch)
	case m.TimeoutMs <= 0:
		return fmt.Errorf("transaction timeout %d ms", m.TimeoutMs)
	case m.TV < 0 || m.TV > TV2:
		return fmt.Errorf("client transaction version %d", m.TV)
	case m.State != Empty && m.StartMs < 0:
		return fmt.Errorf("state %s without a start time", m.State)
	case slices.ContainsFunc(m.Partitions, func(p Partition) bool { return p.Topic == "" || p.Partition < 0 }):
		return errors.New("a partition without topic or with a negative index")
	}
	return nil
}
