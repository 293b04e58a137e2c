package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/brokerd/batch"
	"github.com/kafki/kafki/brokerd/internal/clusterproc"
	"github.com/kafki/kafki/brokerd/storage"
	"github.com/kafki/kafki/internal/poll"
	"github.com/kafki/kafki/loadtest/brokerproc"
)

// TestCompactionReplicasAgree runs a compacted RF=3 topic on three broker
// processes: every broker's cleaner compacts its own replica (leader and
// followers), and once each has cleaned up to its active segment, the
// three logs hold byte for byte the same batches, each key once with its
// last value.
func TestCompactionReplicasAgree(t *testing.T) {
	const topic = "compacted-rf3"
	c := startCompactionCluster(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()...), kgo.RetryTimeout(20*time.Second),
		kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if err := brokerproc.WaitBrokers(ctx, c.Bootstrap(), 3, 20*time.Second, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	cfg := map[string]*string{
		"cleanup.policy": kadm.StringPtr("compact"), "segment.bytes": kadm.StringPtr("4096"),
		"min.cleanable.dirty.ratio": kadm.StringPtr("0.01"), "min.insync.replicas": kadm.StringPtr("3"),
	}
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 3, cfg, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
	want := map[string]string{}
	for round := 0; round < 40; round++ {
		var recs []*kgo.Record
		for k := 0; k < 15; k++ {
			key, val := fmt.Sprintf("key-%02d", k), fmt.Sprintf("v%d", round)
			recs = append(recs, &kgo.Record{Key: []byte(key), Value: []byte(val)})
			want[key] = val
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("produce round %d: %v", round, err)
		}
	}
	for i := 0; i < 60; i++ { // unique keys: every update leaves the active segment
		key := fmt.Sprintf("filler-%02d", i)
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte(key), Value: []byte("f")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		want[key] = "f"
	}
	dirs := map[int32]string{}
	for _, p := range c.Brokers() {
		dirs[p.ID()] = filepath.Join(p.DataDir(), topic+"-0")
	}
	poll.Must(t, 60*time.Second, "every replica cleaned up to its active segment", func() error {
		for id, dir := range dirs {
			if err := cleanedToActive(dir); err != nil {
				return fmt.Errorf("broker %d: %w", id, err)
			}
		}
		return nil
	})
	cl.Close()
	for _, p := range c.Brokers() {
		if err := p.Terminate(15 * time.Second); err != nil {
			t.Fatalf("stop broker %d: %v", p.ID(), err)
		}
	}
	var first []byte
	var firstID int32
	for id, dir := range dirs {
		raw := readReplica(t, dir)
		checkCompactedBatches(t, id, raw, want)
		if first == nil {
			first, firstID = raw, id
			continue
		}
		if !bytes.Equal(raw, first) {
			t.Fatalf("broker %d's replica (%d bytes) differs from broker %d's (%d bytes)", id, len(raw), firstID, len(first))
		}
	}
}

// startCompactionCluster starts three brokers with kcatClusterEnv's short
// timers and compactionFlags' as environment.
func startCompactionCluster(t *testing.T) *clusterproc.Cluster {
	t.Helper()
	return startClusterEnv(t, append(slices.Clone(kcatClusterEnv), "KAFKI_LOG_RETENTION_CHECK_INTERVAL=100ms", "KAFKI_LOG_CLEANER_BACKOFF=50ms"))
}

// cleanedToActive checks, from the files of a live replica, that its
// cleaner checkpoint's first dirty offset is the active segment's base.
func cleanedToActive(dir string) error {
	logs, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil || len(logs) < 2 {
		return fmt.Errorf("%d segments (%v)", len(logs), err)
	}
	sort.Strings(logs)
	var active int64
	if _, err := fmt.Sscanf(filepath.Base(logs[len(logs)-1]), "%020d.log", &active); err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(dir, "cleaner-offset"))
	if err != nil {
		return err
	}
	if len(b) < 12 {
		return errors.New("short cleaner checkpoint")
	}
	if dirty := int64(binary.BigEndian.Uint64(b[4:])); dirty != active {
		return fmt.Errorf("first dirty offset %d, active segment %d", dirty, active)
	}
	return nil
}

// readReplica opens a stopped broker's partition log and reads every
// batch from its start.
func readReplica(t *testing.T, dir string) []byte {
	t.Helper()
	cfg := storage.DefaultConfig()
	cfg.Compact, cfg.NoRetention, cfg.SegmentBytes = true, true, 4096
	l, err := storage.Open(dir, storage.Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	defer l.Close()
	var out []byte
	for off := l.LogStartOffset(); off < l.LogEndOffset(); {
		b, err := l.Read(off, 1<<20, l.LogEndOffset())
		if err != nil || len(b) == 0 {
			t.Fatalf("%s: Read(%d): %d bytes, %v", dir, off, len(b), err)
		}
		out = append(out, b...)
		for len(b) > 0 {
			h, err := batch.ParseHeader(b)
			if err != nil {
				t.Fatal(err)
			}
			off = h.LastOffset() + 1
			b = b[h.Size():]
		}
	}
	return out
}

// checkCompactedBatches: each key once, with its last value.
func checkCompactedBatches(t *testing.T, id int32, raw []byte, want map[string]string) {
	t.Helper()
	got := map[string][]string{}
	for len(raw) > 0 {
		h, err := batch.ParseHeader(raw)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := batch.Records(raw, &h, batch.DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			got[string(r.Key)] = append(got[string(r.Key)], string(r.Value))
		}
		raw = raw[h.Size():]
	}
	for k, v := range want {
		if vs := got[k]; len(vs) != 1 || vs[0] != v {
			t.Fatalf("broker %d: key %s has %v, want exactly [%s]", id, k, vs, v)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("broker %d: %d keys, want %d", id, len(got), len(want))
	}
}
