package remote

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// fileVersion is the format version of a partition's metadata file.
const fileVersion = 1

// partitionFile is the JSON content of one partition's file.
type partitionFile struct {
	Version int            `json:"version"`
	TP      TopicPartition `json:"partition"`
	// Fence is the highest leader epoch any write carried.
	Fence    int32     `json:"fence"`
	Segments []Segment `json:"segments"`
}

// FileStore is the embedded Store: one JSON file per partition in a
// directory (see the package doc).
type FileStore struct {
	dir string
	now func() time.Time

	mu    sync.Mutex
	parts map[TopicPartition]*partitionFile // guarded by mu; replaced, never mutated in place
}

var _ Store = (*FileStore)(nil)

// OpenFileStore loads (creating the directory if needed) the metadata in
// dir. now stamps CreatedAt; nil means time.Now.
func OpenFileStore(dir string, now func() time.Time) (*FileStore, error) {
	if now == nil {
		now = time.Now
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("remote: create %s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("remote: read %s: %w", dir, err)
	}
	s := &FileStore{dir: dir, now: now, parts: map[TopicPartition]*partitionFile{}}
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".tmp") {
			os.Remove(filepath.Join(dir, name)) // left by a crash mid-write
			continue
		}
		if !strings.HasSuffix(name, ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("remote: read %s: %w", name, err)
		}
		var pf partitionFile
		if err := json.Unmarshal(b, &pf); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, name, err)
		}
		if pf.Version != fileVersion || name != fileName(pf.TP) {
			return nil, fmt.Errorf("%w: %s: version %d, partition %v", ErrInvalid, name, pf.Version, pf.TP)
		}
		for i := range pf.Segments {
			if err := pf.Segments[i].Validate(); err != nil {
				return nil, fmt.Errorf("remote: %s: %w", name, err)
			}
		}
		s.parts[pf.TP] = &pf
	}
	return s, nil
}

// fileName encodes tp as a file name; topic names cannot hold '/'.
func fileName(tp TopicPartition) string {
	return fmt.Sprintf("%s.%d.json", tp.Topic, tp.Partition)
}

// update applies fn to a copy of tp's state, after the epoch check, and
// persists the result before publishing it.
func (s *FileStore) update(ctx context.Context, tp TopicPartition, epoch int32, fn func(pf *partitionFile) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.parts[tp]
	next := &partitionFile{Version: fileVersion, TP: tp, Fence: -1}
	if cur != nil {
		next.Fence = cur.Fence
		next.Segments = append([]Segment(nil), cur.Segments...)
	}
	if epoch < next.Fence {
		return fmt.Errorf("%w: %v: epoch %d, fence %d", ErrStaleEpoch, tp, epoch, next.Fence)
	}
	next.Fence = epoch
	if err := fn(next); err != nil {
		return err
	}
	Sort(next.Segments)
	if err := s.write(next); err != nil {
		return err
	}
	s.parts[tp] = next
	return nil
}

func (s *FileStore) write(pf *partitionFile) error {
	b, err := json.MarshalIndent(pf, "", "  ")
	if err != nil {
		return fmt.Errorf("remote: encode %v: %w", pf.TP, err)
	}
	dst := filepath.Join(s.dir, fileName(pf.TP))
	tmp := dst + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("remote: write %v: %w", pf.TP, err)
	}
	_, werr := f.Write(b)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, dst)
	}
	if werr == nil {
		werr = syncDir(s.dir)
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("remote: write %v: %w", pf.TP, werr)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func find(pf *partitionFile, id string) int {
	for i := range pf.Segments {
		if pf.Segments[i].ID == id {
			return i
		}
	}
	return -1
}

// Create implements Store.
func (s *FileStore) Create(ctx context.Context, seg Segment) error {
	if err := seg.Validate(); err != nil {
		return err
	}
	seg.State = CopyStarted
	if seg.CreatedAt.IsZero() {
		seg.CreatedAt = s.now()
	}
	seg.Objects = append([]Object(nil), seg.Objects...)
	return s.update(ctx, seg.TopicPartition, seg.LeaderEpoch, func(pf *partitionFile) error {
		if find(pf, seg.ID) >= 0 {
			return fmt.Errorf("%w: %v %s", ErrExists, seg.TopicPartition, seg.ID)
		}
		pf.Segments = append(pf.Segments, seg)
		return nil
	})
}

// Transition implements Store.
func (s *FileStore) Transition(ctx context.Context, tp TopicPartition, id string, epoch int32, from, to State) error {
	if !Allowed(from, to) {
		return fmt.Errorf("%w: %v %s: %s -> %s not allowed", ErrStateConflict, tp, id, from, to)
	}
	return s.update(ctx, tp, epoch, func(pf *partitionFile) error {
		i := find(pf, id)
		if i < 0 {
			return fmt.Errorf("%w: %v %s", ErrNotFound, tp, id)
		}
		seg := &pf.Segments[i]
		if seg.State != from {
			return fmt.Errorf("%w: %v %s is %s, not %s", ErrStateConflict, tp, id, seg.State, from)
		}
		if to == CopyFinished {
			for _, f := range pf.Segments {
				if f.State == CopyFinished && f.LastOffset >= seg.LastOffset {
					return fmt.Errorf("%w: %v %s ends at %d, %s already ends at %d", ErrNoProgress, tp, id, seg.LastOffset, f.ID, f.LastOffset)
				}
			}
		}
		seg.State = to
		return nil
	})
}

// Remove implements Store.
func (s *FileStore) Remove(ctx context.Context, tp TopicPartition, id string, epoch int32) error {
	return s.update(ctx, tp, epoch, func(pf *partitionFile) error {
		i := find(pf, id)
		if i < 0 {
			return fmt.Errorf("%w: %v %s", ErrNotFound, tp, id)
		}
		if st := pf.Segments[i].State; st != DeleteStarted {
			return fmt.Errorf("%w: %v %s is %s, not %s", ErrStateConflict, tp, id, st, DeleteStarted)
		}
		pf.Segments = append(pf.Segments[:i], pf.Segments[i+1:]...)
		return nil
	})
}

// Fence implements Store.
func (s *FileStore) Fence(ctx context.Context, tp TopicPartition, epoch int32) error {
	return s.update(ctx, tp, epoch, func(*partitionFile) error { return nil })
}

// List implements Store. The returned slice is the caller's.
func (s *FileStore) List(ctx context.Context, tp TopicPartition) ([]Segment, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	pf := s.parts[tp]
	s.mu.Unlock()
	if pf == nil {
		return nil, nil
	}
	// Segments are never mutated once published (update copies), so
	// only the slice needs copying.
	return append([]Segment(nil), pf.Segments...), nil
}

// Partitions implements Store.
func (s *FileStore) Partitions(ctx context.Context) ([]TopicPartition, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]TopicPartition, 0, len(s.parts))
	for tp := range s.parts {
		out = append(out, tp)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out, nil
}
