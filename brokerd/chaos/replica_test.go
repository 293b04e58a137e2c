package chaos

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"

	"github.com/kafki/kafki/brokerd/batch"
	"github.com/kafki/kafki/brokerd/internal/checker"
	"github.com/kafki/kafki/brokerd/storage"
)

// replicaLog is what one broker's copy of a partition holds on disk.
type replicaLog struct {
	start, end int64 // log start and end offsets
	records    []checker.Observed
}

// readReplica reads partition p of topic from a stopped broker's data
// directory. It opens a copy, because opening a log may recover it
// (truncate a torn tail, rebuild indexes), and the evidence must stay as
// the broker left it.
func readReplica(dataDir, topic string, p int32, scratch string) (replicaLog, error) {
	var rl replicaLog
	src, err := findPartitionDir(dataDir, topic+"-"+strconv.Itoa(int(p)))
	if err != nil {
		return rl, err
	}
	dst := filepath.Join(scratch, filepath.Base(dataDir)+"-"+filepath.Base(src))
	if err := copyDir(src, dst); err != nil {
		return rl, err
	}
	l, err := storage.Open(dst, storage.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return rl, fmt.Errorf("open %s: %w", dst, err)
	}
	defer l.Close()
	rl.start, rl.end = l.LogStartOffset(), l.LogEndOffset()
	for off := rl.start; off < rl.end; {
		b, err := l.Read(off, 1<<20, rl.end)
		if err != nil {
			return rl, fmt.Errorf("read %s at %d: %w", dst, off, err)
		}
		if len(b) == 0 {
			return rl, fmt.Errorf("read %s at %d: nothing below log end %d", dst, off, rl.end)
		}
		next := off
		it := batch.NewIter(b)
		for it.Next() {
			raw := it.Batch()
			h, err := batch.ParseHeader(raw)
			if err != nil {
				return rl, fmt.Errorf("%s at %d: %w", dst, next, err)
			}
			next = h.LastOffset() + 1
			if h.IsControl() {
				continue
			}
			recs, err := batch.Records(raw, &h, batch.DecodeOptions{})
			if err != nil {
				return rl, fmt.Errorf("%s: batch at %d: %w", dst, h.BaseOffset, err)
			}
			for _, r := range recs {
				rl.records = append(rl.records, checker.Observed{Offset: h.BaseOffset + int64(r.OffsetDelta), Value: string(r.Value)})
			}
		}
		if err := it.Err(); err != nil {
			return rl, fmt.Errorf("%s at %d: %w", dst, next, err)
		}
		if next <= off {
			return rl, fmt.Errorf("%s: no progress at offset %d", dst, off)
		}
		off = next
	}
	return rl, nil
}

// findPartitionDir finds the directory called name under dataDir.
func findPartitionDir(dataDir, name string) (string, error) {
	var found string
	err := filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == name {
			found = path
			return fs.SkipAll
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("look for %s in %s: %w", name, dataDir, err)
	}
	if found == "" {
		return "", fmt.Errorf("no partition directory %s in %s", name, dataDir)
	}
	return found, nil
}

// copyDir copies the regular files of src (one level: a partition
// directory has no subdirectories) into a new directory dst.
func copyDir(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("list %s: %w", src, err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if err := copyFile(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, out.Close()) }()
	if _, err := io.Copy(out, in); err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return nil
}
