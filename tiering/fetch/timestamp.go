package fetch

import (
	"context"
	"errors"
	"fmt"

	"github.com/kafki/kafki/brokerd/batch"
	"github.com/kafki/kafki/tiering/remote"
)

// errStop ends a record walk early.
var errStop = errors.New("stop")

// OffsetForTimestamp returns the earliest offset of tp's remote tier
// whose record timestamp is >= ts (Kafka's ListOffsets by timestamp);
// found is false when every remote record is older.
func (r *Reader) OffsetForTimestamp(ctx context.Context, tp remote.TopicPartition, ts int64) (offset int64, found bool, err error) {
	fin, err := r.finished(ctx, tp)
	if err != nil {
		return 0, false, err
	}
	for _, seg := range fin {
		if seg.MaxTimestamp < ts {
			continue
		}
		off, ok, err := r.searchSegment(ctx, seg, ts)
		if err != nil || ok {
			return off, ok, err
		}
	}
	return 0, false, nil
}

// searchSegment scans seg from the batch the time index points to.
func (r *Reader) searchSegment(ctx context.Context, seg remote.Segment, ts int64) (int64, bool, error) {
	log, ok := seg.Object(remote.KindLog)
	if !ok || log.Size != seg.Size {
		return 0, false, fmt.Errorf("%w: %v %s: no log object of size %d", ErrCorrupt, seg.TopicPartition, seg.ID, seg.Size)
	}
	pos := int64(0)
	if tobj, ok := seg.Object(remote.KindTimeIndex); ok {
		tidx, err := r.whole(ctx, tobj)
		if err != nil {
			return 0, false, err
		}
		if rel, ok := timeIndex(tidx).lookupBefore(ts); ok {
			if iobj, ok := seg.Object(remote.KindIndex); ok {
				idx, err := r.whole(ctx, iobj)
				if err != nil {
					return 0, false, err
				}
				pos = offsetIndex(idx).lookup(rel)
			}
		}
	}
	sr := &segReader{r: r, ctx: ctx, obj: log}
	for pos < log.Size {
		_, _, size, err := sr.batchAt(pos)
		if err != nil {
			return 0, false, fmt.Errorf("fetch: %v %s: %w", seg.TopicPartition, seg.ID, err)
		}
		b, err := sr.read(pos, size)
		if err != nil {
			return 0, false, err
		}
		h, err := batch.ParseHeader(b)
		if err != nil {
			return 0, false, fmt.Errorf("%w: %v %s at %d: %w", ErrCorrupt, seg.TopicPartition, seg.ID, pos, err)
		}
		pos += size
		if h.MaxTimestamp < ts {
			continue
		}
		if h.Attributes&batch.AttrLogAppendTime != 0 {
			// Every record's timestamp is the batch's max timestamp.
			return h.BaseOffset, true, nil
		}
		var off int64
		err = batch.ForEachRecord(b, &h, batch.DecodeOptions{}, func(rec *batch.Record) error {
			if h.BaseTimestamp+rec.TimestampDelta >= ts {
				off = h.BaseOffset + int64(rec.OffsetDelta)
				return errStop
			}
			return nil
		})
		if errors.Is(err, errStop) {
			return off, true, nil
		}
		if err != nil {
			return 0, false, fmt.Errorf("%w: %v %s at %d: %w", ErrCorrupt, seg.TopicPartition, seg.ID, pos-size, err)
		}
	}
	return 0, false, nil
}
