package storage

import (
	"encoding/binary"
	"fmt"

	"github.com/kafki/kafki/brokerd/batch"
)

// eachRecordTime calls fn with the offset and timestamp deltas of each
// record of batch b until fn returns false.
//
// TEMPORARY: decodes uncompressed batches itself until
// batch.ForEachRecord lands.
func eachRecordTime(b []byte, h *batch.Header, fn func(offsetDelta int32, timestampDelta int64) bool) error {
	if h.Compression() != batch.CompressionNone {
		return fmt.Errorf("compressed batches not supported yet")
	}
	r := b[batch.HeaderSize:h.Size()]
	for i := int32(0); i < h.RecordCount; i++ {
		length, n := binary.Varint(r)
		if n <= 0 || length < 0 || int64(len(r)-n) < length {
			return fmt.Errorf("record %d: bad length", i)
		}
		rec := r[n : n+int(length)]
		r = r[n+int(length):]
		if len(rec) < 1 {
			return fmt.Errorf("record %d: empty", i)
		}
		rec = rec[1:]
		tsd, n := binary.Varint(rec)
		if n <= 0 {
			return fmt.Errorf("record %d: bad timestamp delta", i)
		}
		od, n2 := binary.Varint(rec[n:])
		if n2 <= 0 {
			return fmt.Errorf("record %d: bad offset delta", i)
		}
		if !fn(int32(od), tsd) {
			return nil
		}
	}
	return nil
}
