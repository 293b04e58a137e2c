package chaos

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"

	"github.com/kafki/kafki/brokerd/batch"
	"github.com/kafki/kafki/brokerd/internal/checker"
	"github.com/kafki/kafki/brokerd/storage"
)

// TestReadReplica: readReplica returns every record of a partition's
// files, across batches and codecs, at the offsets the log gave them, and
// finds the partition directory wherever the broker put it.
func TestReadReplica(t *testing.T) {
	data := t.TempDir()
	dir := filepath.Join(data, "nested", topic+"-1")
	l, err := storage.Open(dir, storage.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var want []checker.Observed
	next := int64(0)
	for i, codec := range []batch.Compression{batch.CompressionNone, batch.CompressionZstd, batch.CompressionNone} {
		var recs []batch.Record
		for j := range 3 {
			v := fmt.Sprintf("b%d-r%d", i, j)
			recs = append(recs, batch.Record{Value: []byte(v)})
			want = append(want, checker.Observed{Offset: next, Value: v})
			next++
		}
		if _, err := l.Append(batch.Build(recs, batch.BuildOptions{Compression: codec}), storage.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	rl, err := readReplica(data, topic, 1, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if rl.start != 0 || rl.end != next {
		t.Errorf("offsets [%d, %d), want [0, %d)", rl.start, rl.end, next)
	}
	if !slices.Equal(rl.records, want) {
		t.Errorf("records\n%v\nwant\n%v", rl.records, want)
	}
	if _, err := readReplica(data, topic, 2, t.TempDir()); err == nil {
		t.Error("reading a partition that has no directory succeeded")
	}
}
