package storage

import (
	"errors"

	"github.com/kafki/kafki/brokerd/batch"
)

// errStopRecords ends a record iteration early; it never escapes.
var errStopRecords = errors.New("stop")

// eachRecordTime calls fn with the offset and timestamp deltas of each
// record of batch b (decompressing it if needed) until fn returns false.
func eachRecordTime(b []byte, h *batch.Header, fn func(offsetDelta int32, timestampDelta int64) bool) error {
	err := batch.ForEachRecord(b, h, batch.DecodeOptions{}, func(r *batch.Record) error {
		if !fn(r.OffsetDelta, r.TimestampDelta) {
			return errStopRecords
		}
		return nil
	})
	if errors.Is(err, errStopRecords) {
		return nil
	}
	return err
}
