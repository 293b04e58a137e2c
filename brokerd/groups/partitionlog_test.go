package groups

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/meta"
	"github.com/kafki/kafki/brokerd/topics"
)

// The production adapter writes a record set of several batches (a
// snapshot of more keys than one batch holds) through the produce path,
// which takes one batch per append.
func TestPartitionLogAppendsMultiBatchSets(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	store, err := meta.OpenEmbedded(filepath.Join(cfg.DataDir, "__meta"))
	if err != nil {
		t.Fatal(err)
	}
	tm, err := topics.Open(t.Context(), &cfg, store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer tm.Close()
	tp, err := tm.EnsureInternalTopic(t.Context(), topics.OffsetsTopic, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	var kvs []kv
	for i := 0; i < 3*maxBatchRecords+7; i++ {
		kvs = append(kvs, kv{key: []byte(fmt.Sprint("k", i)), value: []byte("v")})
	}
	set := encodeRecordSet(kvs, time.Now())
	lg := PartitionLog(tp.Partitions[0], true)
	if err := lg.Append(set); err != nil {
		t.Fatalf("append of a %d-record set: %v", len(kvs), err)
	}
	if end := lg.End(); end != int64(len(kvs)) {
		t.Fatalf("log end %d, want %d", end, len(kvs))
	}
}
