package remote

import "context"

// Store keeps remote segment metadata. Implementations are safe for
// concurrent use and make each write durable before returning; every
// write is conditional on the leader epoch (see the package doc).
type Store interface {
	// Create records seg in state COPY_STARTED, fenced by
	// seg.LeaderEpoch. ErrExists if the id is taken.
	Create(ctx context.Context, seg Segment) error
	// Transition moves segment id of tp from state from to state to.
	// Committing (to COPY_FINISHED) fails with ErrNoProgress if the
	// segment adds no offsets to the finished ones.
	Transition(ctx context.Context, tp TopicPartition, id string, epoch int32, from, to State) error
	// Remove deletes the record of segment id, which must be in
	// DELETE_STARTED (its objects already deleted).
	Remove(ctx context.Context, tp TopicPartition, id string, epoch int32) error
	// Fence raises tp's fence to epoch (a new leader calls it when it
	// takes over, so its predecessor's writes fail from then on).
	Fence(ctx context.Context, tp TopicPartition, epoch int32) error
	// List returns tp's segments in every state, sorted (Sort).
	List(ctx context.Context, tp TopicPartition) ([]Segment, error)
	// Partitions lists the partitions that have any metadata.
	Partitions(ctx context.Context) ([]TopicPartition, error)
}
