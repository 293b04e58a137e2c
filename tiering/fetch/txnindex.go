package fetch

import (
	"context"
	"fmt"
	"sort"

	"github.com/kafki/kafki/tiering/remote"
)

// TxnIndex is one remote segment's aborted-transactions index object, as
// uploaded (Kafka's .txnindex bytes; nil when the segment has none). The
// bytes are untrusted and the caller's to parse.
type TxnIndex struct {
	BaseOffset, LastOffset int64
	Data                   []byte
}

// TxnIndexes visits, in offset order, the finished segments of tp that
// end at or after from, with their aborted-transactions index, until
// visit returns false. A read_committed fetch of remote records needs the
// aborted transactions whose ABORT marker is at or after its offset: in
// the segment it reads or a later one. Index objects are fetched whole
// and cached like offset indexes; a segment uploaded without one (no
// abort in it, or written before transactions existed) is visited with
// nil Data.
func (r *Reader) TxnIndexes(ctx context.Context, tp remote.TopicPartition, from int64, visit func(TxnIndex) bool) error {
	if r.bg.Err() != nil {
		return ErrClosed
	}
	fin, err := r.finished(ctx, tp)
	if err != nil {
		return err
	}
	i := sort.Search(len(fin), func(i int) bool { return fin[i].LastOffset >= from })
	for ; i < len(fin); i++ {
		seg := fin[i]
		x := TxnIndex{BaseOffset: seg.BaseOffset, LastOffset: seg.LastOffset}
		if obj, ok := seg.Object(remote.KindTxnIndex); ok {
			if x.Data, err = r.whole(ctx, obj); err != nil {
				return fmt.Errorf("fetch: %v %s: txn index: %w", tp, seg.ID, err)
			}
			if int64(len(x.Data)) != obj.Size {
				return fmt.Errorf("%w: %v %s: txn index holds %d bytes, want %d", ErrCorrupt, tp, seg.ID, len(x.Data), obj.Size)
			}
		}
		if !visit(x) {
			return nil
		}
	}
	return nil
}
