package segtest

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/kafki/kafki/brokerd/batch"
)

// Spec describes a segment to write.
type Spec struct {
	Base            int64 // first offset
	Batches         int
	RecordsPerBatch int
	ValueSize       int
	// BaseTimestamp of the first batch; each batch is 10 ms later and its
	// records 1 ms apart.
	BaseTimestamp int64
	// IndexInterval is the byte interval between offset index entries
	// (storage's IndexIntervalBytes).
	IndexInterval int
	// Compression of every batch.
	Compression batch.Compression
}

// Segment is a written segment.
type Segment struct {
	LogPath, IndexPath, TimeIndexPath, SnapshotPath string
	Log                                             []byte // the whole log file
	Headers                                         []batch.Header
	Positions                                       []int64 // of each batch
	Next                                            int64   // offset after the last record
	MaxTimestamp                                    int64
}

// BatchTimestamp is the base timestamp of batch i of spec.
func (s Spec) BatchTimestamp(i int) int64 { return s.BaseTimestamp + int64(i)*10 }

// Write writes the segment's files into dir.
func Write(dir string, spec Spec) (*Segment, error) {
	seg := &Segment{MaxTimestamp: -1}
	var index, tindex []byte
	lastTs := int64(-1 << 63)
	maxTs := int64(-1)
	since := 0
	off := spec.Base
	for i := 0; i < spec.Batches; i++ {
		recs := make([]batch.Record, spec.RecordsPerBatch)
		for j := range recs {
			recs[j] = batch.Record{
				TimestampDelta: int64(j),
				Key:            []byte("k" + strconv.FormatInt(off+int64(j), 10)),
				Value:          value(off+int64(j), spec.ValueSize),
			}
		}
		b := batch.Build(recs, batch.BuildOptions{BaseOffset: off, BaseTimestamp: spec.BatchTimestamp(i), Compression: spec.Compression})
		h, err := batch.ParseHeader(b)
		if err != nil {
			return nil, fmt.Errorf("segtest: %w", err)
		}
		pos := int64(len(seg.Log))
		rel := uint32(off - spec.Base)
		maxTs = max(maxTs, h.MaxTimestamp)
		if since >= spec.IndexInterval {
			index = binary.BigEndian.AppendUint32(index, rel)
			index = binary.BigEndian.AppendUint32(index, uint32(pos))
			if maxTs > lastTs {
				tindex = binary.BigEndian.AppendUint64(tindex, uint64(maxTs))
				tindex = binary.BigEndian.AppendUint32(tindex, rel)
				lastTs = maxTs
			}
			since = 0
		}
		since += len(b)
		seg.Log = append(seg.Log, b...)
		seg.Headers = append(seg.Headers, h)
		seg.Positions = append(seg.Positions, pos)
		off = h.LastOffset() + 1
	}
	if n := len(seg.Headers); n > 0 && maxTs > lastTs { // the seal's entry
		tindex = binary.BigEndian.AppendUint64(tindex, uint64(maxTs))
		tindex = binary.BigEndian.AppendUint32(tindex, uint32(seg.Headers[n-1].BaseOffset-spec.Base))
	}
	seg.Next, seg.MaxTimestamp = off, maxTs
	name := func(suffix string) string { return filepath.Join(dir, fmt.Sprintf("%020d%s", spec.Base, suffix)) }
	seg.LogPath, seg.IndexPath, seg.TimeIndexPath, seg.SnapshotPath = name(".log"), name(".index"), name(".timeindex"), name(".snapshot")
	for path, data := range map[string][]byte{
		seg.LogPath: seg.Log, seg.IndexPath: index, seg.TimeIndexPath: tindex,
		seg.SnapshotPath: []byte("snapshot@" + strconv.FormatInt(spec.Base, 10)),
	} {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return nil, fmt.Errorf("segtest: %w", err)
		}
	}
	return seg, nil
}

// value is record off's value: recognisable, n bytes.
func value(off int64, n int) []byte {
	v := make([]byte, n)
	s := strconv.FormatInt(off, 10) + "|"
	for i := range v {
		v[i] = s[i%len(s)]
	}
	return v
}
