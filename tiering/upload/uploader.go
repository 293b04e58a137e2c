package upload

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"time"

	"github.com/kafki/kafki/tiering/objstore"
	"github.com/kafki/kafki/tiering/remote"
)

// ErrVerify: an uploaded object does not match its local file.
var ErrVerify = errors.New("upload: verification failed")

// cleanupTimeout bounds the best-effort cleanup after a failed upload.
const cleanupTimeout = 30 * time.Second

// Sealed is a sealed local segment to upload. Paths other than LogPath
// may be empty when the file does not exist (an empty time index).
type Sealed struct {
	TP remote.TopicPartition
	// LeaderEpoch is the uploading leader's epoch: the fencing token.
	LeaderEpoch   int32
	LogPath       string
	IndexPath     string
	TimeIndexPath string
	SnapshotPath  string
	TxnIndexPath  string
	// LeaderEpochs is the partition's leader-epoch history (checkpoint
	// bytes) as of the segment's end; stored as its own object.
	LeaderEpochs []byte
}

// Uploader uploads sealed segments. It is safe for concurrent use on
// different segments.
type Uploader struct {
	store objstore.Store
	meta  remote.Store
	now   func() time.Time
}

// New returns an uploader writing objects to store and metadata to meta.
// now stamps records; nil means time.Now.
func New(store objstore.Store, meta remote.Store, now func() time.Time) *Uploader {
	if now == nil {
		now = time.Now
	}
	return &Uploader{store: store, meta: meta, now: now}
}

// source is one file (or byte slice) to upload.
type source struct {
	kind remote.Kind
	path string // "" when data holds the content
	data []byte
}

// Upload runs the protocol of the package doc and returns the committed
// metadata. On error no COPY_FINISHED record exists for this attempt;
// errors.Is(err, remote.ErrStaleEpoch) means the caller is no longer
// leader, errors.Is(err, remote.ErrNoProgress) that the range is already
// remote (the local copy may then go as well).
func (u *Uploader) Upload(ctx context.Context, s Sealed) (remote.Segment, error) {
	sum, err := scanLog(s.LogPath)
	if err != nil {
		return remote.Segment{}, err
	}
	id, err := remote.NewID(sum.base)
	if err != nil {
		return remote.Segment{}, err
	}
	seg := remote.Segment{
		TopicPartition: s.TP, ID: id,
		BaseOffset: sum.base, LastOffset: sum.last, MaxTimestamp: sum.maxTs, Size: sum.size,
		LeaderEpoch: s.LeaderEpoch, CreatedAt: u.now(),
	}
	sources := []source{{kind: remote.KindLog, path: s.LogPath}}
	for _, src := range []source{
		{kind: remote.KindIndex, path: s.IndexPath},
		{kind: remote.KindTimeIndex, path: s.TimeIndexPath},
		{kind: remote.KindSnapshot, path: s.SnapshotPath},
		{kind: remote.KindTxnIndex, path: s.TxnIndexPath},
	} {
		if src.path != "" {
			sources = append(sources, src)
		}
	}
	sources = append(sources, source{kind: remote.KindLeaderEpochs, data: s.LeaderEpochs})
	for _, src := range sources {
		obj := remote.Object{Kind: src.kind, Key: remote.ObjectKey(s.TP, id, src.kind)}
		switch {
		case src.kind == remote.KindLog:
			obj.Size, obj.CRC32C = sum.size, sum.crc
		case src.path == "":
			obj.Size, obj.CRC32C = int64(len(src.data)), crc32.Checksum(src.data, castagnoli)
		default:
			if obj.Size, obj.CRC32C, err = fileCRC(src.path); err != nil {
				return remote.Segment{}, err
			}
		}
		seg.Objects = append(seg.Objects, obj)
	}

	if err := u.meta.Create(ctx, seg); err != nil {
		return remote.Segment{}, fmt.Errorf("upload %v %s: record: %w", s.TP, id, err)
	}
	if err := u.putAll(ctx, seg, sources); err != nil {
		u.abandon(ctx, seg)
		return remote.Segment{}, fmt.Errorf("upload %v %s: %w", s.TP, id, err)
	}
	if err := u.meta.Transition(ctx, s.TP, id, s.LeaderEpoch, remote.CopyStarted, remote.CopyFinished); err != nil {
		u.abandon(ctx, seg)
		return remote.Segment{}, fmt.Errorf("upload %v %s: commit: %w", s.TP, id, err)
	}
	seg.State = remote.CopyFinished
	return seg, nil
}

// putAll uploads every object, then checks each stored size.
func (u *Uploader) putAll(ctx context.Context, seg remote.Segment, sources []source) error {
	for i, src := range sources {
		if err := u.put(ctx, seg.Objects[i], src); err != nil {
			return err
		}
	}
	for _, obj := range seg.Objects {
		info, err := u.store.Stat(ctx, obj.Key)
		if err != nil {
			return fmt.Errorf("verify %s: %w", obj.Key, err)
		}
		if info.Size != obj.Size {
			return fmt.Errorf("%w: %s holds %d bytes, want %d", ErrVerify, obj.Key, info.Size, obj.Size)
		}
	}
	return nil
}

func (u *Uploader) put(ctx context.Context, obj remote.Object, src source) error {
	var r io.Reader = bytes.NewReader(src.data)
	if src.path != "" {
		f, err := os.Open(src.path)
		if err != nil {
			return fmt.Errorf("open %s: %w", src.path, err)
		}
		defer f.Close()
		r = f
	}
	cr := &crcReader{r: r}
	if err := u.store.Put(ctx, obj.Key, cr, obj.Size); err != nil {
		return err
	}
	if cr.crc != obj.CRC32C {
		// The file changed between the scan and the upload: the object
		// holds bytes the record does not describe.
		return fmt.Errorf("%w: %s changed during upload (crc %08x, scanned %08x)", ErrVerify, obj.Key, cr.crc, obj.CRC32C)
	}
	return nil
}

// abandon undoes a failed attempt as far as it can, in the crash-safe
// order: mark DELETE_STARTED, delete objects, remove the record. If the
// mark fails (deposed leader, metadata store down) it stops: the
// sweeper finishes from whatever state is left.
func (u *Uploader) abandon(ctx context.Context, seg remote.Segment) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := u.meta.Transition(ctx, seg.TopicPartition, seg.ID, seg.LeaderEpoch, remote.CopyStarted, remote.DeleteStarted); err != nil {
		return
	}
	for _, obj := range seg.Objects {
		if err := u.store.Delete(ctx, obj.Key); err != nil {
			return
		}
	}
	_ = u.meta.Remove(ctx, seg.TopicPartition, seg.ID, seg.LeaderEpoch)
}
