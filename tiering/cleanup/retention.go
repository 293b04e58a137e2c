package cleanup

import (
	"context"
	"fmt"
	"time"

	"github.com/kafki/kafki/tiering/objstore"
	"github.com/kafki/kafki/tiering/remote"
)

// Policy is a topic's total retention (Kafka's retention.ms and
// retention.bytes); a negative value means unlimited.
type Policy struct {
	RetentionMs    int64
	RetentionBytes int64
}

// RetentionResult reports what ApplyRetention did.
type RetentionResult struct {
	Deleted []remote.Segment
	// LogStartOffset is the first offset the remote tier still holds;
	// valid when HasRemote.
	LogStartOffset int64
	HasRemote      bool
}

// Retention deletes remote segments past total retention.
type Retention struct {
	store objstore.Store
	meta  remote.Store
	now   func() time.Time
}

// NewRetention returns a Retention; nil now means time.Now.
func NewRetention(store objstore.Store, meta remote.Store, now func() time.Time) *Retention {
	if now == nil {
		now = time.Now
	}
	return &Retention{store: store, meta: meta, now: now}
}

// Apply deletes, oldest first, the finished segments of tp that are
// past policy, as leader at epoch. localBytes is the size of the
// partition's local data above the remote tier, which counts towards
// retention.bytes (the total of both tiers). A segment goes when its
// max timestamp is older than retention.ms, or when the total without it
// is still at least retention.bytes (Kafka's rule). Deletion stops at
// the first segment that stays, and at the first error.
func (r *Retention) Apply(ctx context.Context, tp remote.TopicPartition, epoch int32, policy Policy, localBytes int64) (RetentionResult, error) {
	var res RetentionResult
	segs, err := r.meta.List(ctx, tp)
	if err != nil {
		return res, fmt.Errorf("cleanup: retention %v: %w", tp, err)
	}
	fin := remote.Finished(segs)
	total := localBytes
	for _, s := range fin {
		total += s.Size
	}
	cutoff := r.now().UnixMilli() - policy.RetentionMs
	for len(fin) > 0 {
		s := fin[0]
		expired := policy.RetentionMs >= 0 && s.MaxTimestamp < cutoff
		oversize := policy.RetentionBytes >= 0 && total-s.Size >= policy.RetentionBytes
		if !expired && !oversize {
			break
		}
		if err := deleteSegment(ctx, r.store, r.meta, s, epoch); err != nil {
			return res, err
		}
		res.Deleted = append(res.Deleted, s)
		total -= s.Size
		fin = fin[1:]
	}
	if len(fin) > 0 {
		res.LogStartOffset, res.HasRemote = fin[0].BaseOffset, true
	}
	return res, nil
}
