package cleanup

import (
	"context"
	"fmt"

	"github.com/kafki/kafki/tiering/objstore"
	"github.com/kafki/kafki/tiering/remote"
)

// deleteSegment deletes seg in the crash-safe order of the package doc,
// starting from its current state.
func deleteSegment(ctx context.Context, store objstore.Store, meta remote.Store, seg remote.Segment, epoch int32) error {
	if seg.State != remote.DeleteStarted {
		if err := meta.Transition(ctx, seg.TopicPartition, seg.ID, epoch, seg.State, remote.DeleteStarted); err != nil {
			return fmt.Errorf("cleanup: mark %v %s: %w", seg.TopicPartition, seg.ID, err)
		}
	}
	for _, obj := range seg.Objects {
		if err := store.Delete(ctx, obj.Key); err != nil {
			return fmt.Errorf("cleanup: delete %v %s: %w", seg.TopicPartition, seg.ID, err)
		}
	}
	if err := meta.Remove(ctx, seg.TopicPartition, seg.ID, epoch); err != nil {
		return fmt.Errorf("cleanup: remove %v %s: %w", seg.TopicPartition, seg.ID, err)
	}
	return nil
}
