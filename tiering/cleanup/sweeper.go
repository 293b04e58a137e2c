package cleanup

import (
	"context"
	"fmt"
	"time"

	"github.com/kafki/kafki/tiering/objstore"
	"github.com/kafki/kafki/tiering/remote"
)

// DefaultGrace is the sweeper's default grace period.
const DefaultGrace = time.Hour

// Sweeper removes crash leftovers of one store pair.
type Sweeper struct {
	store objstore.Store
	meta  remote.Store
	grace time.Duration
	now   func() time.Time
}

// NewSweeper returns a sweeper; grace <= 0 means DefaultGrace and nil now
// means time.Now.
func NewSweeper(store objstore.Store, meta remote.Store, grace time.Duration, now func() time.Time) *Sweeper {
	if grace <= 0 {
		grace = DefaultGrace
	}
	if now == nil {
		now = time.Now
	}
	return &Sweeper{store: store, meta: meta, grace: grace, now: now}
}

// SweepResult counts what a sweep removed.
type SweepResult struct {
	FinishedDeletes int // DELETE_STARTED records completed
	AbandonedCopies int // stale COPY_STARTED records deleted
	OrphanObjects   int // unreferenced objects deleted
}

// Sweep cleans partition tp as its leader at epoch: it finishes
// interrupted deletes, deletes uploads that never committed, then
// objects no live record refers to (see the package doc for the rules).
func (s *Sweeper) Sweep(ctx context.Context, tp remote.TopicPartition, epoch int32) (SweepResult, error) {
	var res SweepResult
	cutoff := s.now().Add(-s.grace)
	// Fence first: a deposed leader must not delete even unreferenced
	// objects, which only metadata writes would otherwise check.
	if err := s.meta.Fence(ctx, tp, epoch); err != nil {
		return res, fmt.Errorf("cleanup: sweep %v: %w", tp, err)
	}
	segs, err := s.meta.List(ctx, tp)
	if err != nil {
		return res, fmt.Errorf("cleanup: sweep %v: %w", tp, err)
	}
	live := map[string]bool{}
	for _, seg := range segs {
		switch {
		case seg.State == remote.DeleteStarted:
			if err := deleteSegment(ctx, s.store, s.meta, seg, epoch); err != nil {
				return res, err
			}
			res.FinishedDeletes++
		case seg.State == remote.CopyStarted && seg.CreatedAt.Before(cutoff):
			if err := deleteSegment(ctx, s.store, s.meta, seg, epoch); err != nil {
				return res, err
			}
			res.AbandonedCopies++
		default:
			live[seg.ID] = true
		}
	}
	// Listed after the records: an upload that starts now creates its
	// record before its objects, and its objects are younger than the
	// grace anyway.
	objs, err := s.store.List(ctx, remote.PartitionPrefix(tp))
	if err != nil {
		return res, fmt.Errorf("cleanup: sweep %v: %w", tp, err)
	}
	for _, obj := range objs {
		// A key under the prefix that is not a segment object at all is
		// an orphan too.
		id, _ := remote.SegmentIDOfKey(tp, obj.Key)
		if live[id] || !obj.ModTime.Before(cutoff) {
			continue
		}
		if err := s.store.Delete(ctx, obj.Key); err != nil {
			return res, fmt.Errorf("cleanup: sweep %v: %w", tp, err)
		}
		res.OrphanObjects++
	}
	return res, nil
}
