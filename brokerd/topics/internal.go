package topics

import (
	"context"
	"errors"
	"fmt"
)

// OffsetsTopic holds committed offsets and group metadata; the group
// coordinator writes it, clients only read it.
const OffsetsTopic = "__consumer_offsets"

// TxnStateTopic holds the transaction coordinator's state (Kafka's
// __transaction_state); only the coordinator writes it.
const TxnStateTopic = "__transaction_state"

// IsInternal reports whether name is a topic the broker owns: shown with
// is_internal in Metadata, never created or deleted by clients.
func IsInternal(name string) bool { return name == OffsetsTopic || name == TxnStateTopic }

func errInternal(name string) error {
	return fmt.Errorf("%w: %q is reserved for the broker's internal use", ErrInvalidName, name)
}

// EnsureInternalTopic opens the internal topic name, creating it with
// partitions and configs when it does not exist. An existing topic keeps
// its partition count, as in Kafka.
func (m *Manager) EnsureInternalTopic(ctx context.Context, name string, partitions int32, rf int16, configs map[string]string) (*Topic, error) {
	if !IsInternal(name) {
		return nil, fmt.Errorf("%w: %q is not an internal topic", ErrInvalidName, name)
	}
	if t := m.Topic(name); t != nil {
		return t, nil
	}
	t, err := m.createTopic(ctx, name, partitions, rf, configs, false)
	if errors.Is(err, ErrTopicExists) {
		if t := m.Topic(name); t != nil {
			return t, nil
		}
	}
	return t, err
}
