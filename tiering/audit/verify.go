package audit

import (
	"context"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/kafki/kafki/tiering/objstore"
	"github.com/kafki/kafki/tiering/remote"
)

// ProblemKind classifies a finding.
type ProblemKind string

// Kinds of findings.
const (
	Missing          ProblemKind = "missing"           // a named object does not exist
	SizeMismatch     ProblemKind = "size-mismatch"     // its size differs from the record
	ChecksumMismatch ProblemKind = "checksum-mismatch" // its CRC32C differs from the record
	Orphan           ProblemKind = "orphan"            // no record names the object
)

// Problem is one finding.
type Problem struct {
	Kind      ProblemKind
	SegmentID string // empty for orphans that are not segment objects
	Key       string
	Detail    string
}

// Report is the result of Verify.
type Report struct {
	TP remote.TopicPartition
	// Segments are tp's records, every state, in offset order (describe).
	Segments []remote.Segment
	// RemoteBytes sums the log sizes of the finished segments.
	RemoteBytes int64
	Problems    []Problem
}

// OK reports whether Verify found no problem.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Verify audits tp. With checksums it reads every object of every
// finished segment whole; otherwise it only checks existence and sizes.
func Verify(ctx context.Context, store objstore.Store, meta remote.Store, tp remote.TopicPartition, checksums bool) (Report, error) {
	rep := Report{TP: tp}
	segs, err := meta.List(ctx, tp)
	if err != nil {
		return rep, fmt.Errorf("audit %v: %w", tp, err)
	}
	rep.Segments = segs
	objs, err := store.List(ctx, remote.PartitionPrefix(tp))
	if err != nil {
		return rep, fmt.Errorf("audit %v: %w", tp, err)
	}
	stored := make(map[string]objstore.ObjectInfo, len(objs))
	for _, o := range objs {
		stored[o.Key] = o
	}
	known := map[string]bool{}
	for _, seg := range segs {
		known[seg.ID] = true
		if seg.State != remote.CopyFinished {
			continue
		}
		rep.RemoteBytes += seg.Size
		for _, obj := range seg.Objects {
			info, ok := stored[obj.Key]
			switch {
			case !ok:
				rep.Problems = append(rep.Problems, Problem{Missing, seg.ID, obj.Key, "named by the record, not in the store"})
			case info.Size != obj.Size:
				rep.Problems = append(rep.Problems, Problem{SizeMismatch, seg.ID, obj.Key, fmt.Sprintf("%d bytes, recorded %d", info.Size, obj.Size)})
			case checksums:
				crc, err := objectCRC(ctx, store, obj.Key)
				if err != nil {
					return rep, fmt.Errorf("audit %v: %w", tp, err)
				}
				if crc != obj.CRC32C {
					rep.Problems = append(rep.Problems, Problem{ChecksumMismatch, seg.ID, obj.Key, fmt.Sprintf("crc32c %08x, recorded %08x", crc, obj.CRC32C)})
				}
			}
		}
	}
	for _, o := range objs {
		id, _ := remote.SegmentIDOfKey(tp, o.Key)
		if !known[id] {
			rep.Problems = append(rep.Problems, Problem{Orphan, id, o.Key, fmt.Sprintf("%d bytes, modified %s", o.Size, o.ModTime.UTC().Format("2006-01-02T15:04:05Z"))})
		}
	}
	return rep, nil
}

func objectCRC(ctx context.Context, store objstore.Store, key string) (uint32, error) {
	rc, err := store.Get(ctx, key, 0, -1)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	h := crc32.New(castagnoli)
	if _, err := io.Copy(h, rc); err != nil {
		return 0, fmt.Errorf("read %s: %w", key, err)
	}
	return h.Sum32(), nil
}
