package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/internal/poll"
)

// compactionFlags make a broker seal rolled segments (maintenance) and
// look for cleanable partitions often, so tests wait seconds, not the
// defaults' minutes.
var compactionFlags = []string{"--log.retention.check.interval=100ms", "--log.cleaner.backoff=50ms"}

func createCompactedTopic(t *testing.T, addr, topic string, configs map[string]string) {
	t.Helper()
	cfg := map[string]*string{}
	for k, v := range configs {
		cfg[k] = kadm.StringPtr(v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(newClient(t, addr)).CreateTopic(ctx, 1, 1, cfg, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create compacted topic %q: %v", topic, err)
	}
}

// lastValues reads the whole partition 0 of topic and returns every key's
// records' values in order (a nil value is a tombstone, shown as "<nil>").
func keyedValues(t *testing.T, addr, topic string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, r := range readAll(t, addr, topic, 30*time.Second)[0] {
		v := string(r.Value)
		if r.Value == nil {
			v = "<nil>"
		}
		out[string(r.Key)] = append(out[string(r.Key)], v)
	}
	return out
}

// TestCompactionEndToEnd produces many updates of a few keys, tombstones
// some, and waits for the broker's cleaner: a consumer from the beginning
// then reads exactly the last value of each key, and no tombstoned key
// once delete.retention.ms has passed.
func TestCompactionEndToEnd(t *testing.T) {
	const topic = "compacted"
	b := StartBroker(t, Options{Metrics: true, Flags: compactionFlags})
	createCompactedTopic(t, b.Addr, topic, map[string]string{
		"cleanup.policy": "compact", "segment.bytes": "2048",
		"min.cleanable.dirty.ratio": "0.01", "delete.retention.ms": "1000",
	})
	cl := newClient(t, b.Addr, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	want := map[string]string{}
	for round := 0; round < 60; round++ {
		var recs []*kgo.Record
		for k := 0; k < 12; k++ {
			key, val := fmt.Sprintf("key-%02d", k), fmt.Sprintf("v%d-%d", k, round)
			recs = append(recs, &kgo.Record{Key: []byte(key), Value: []byte(val)})
			want[key] = val
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("produce round %d: %v", round, err)
		}
	}
	deleted := []string{"key-03", "key-07"}
	for _, k := range deleted {
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte(k)}).FirstErr(); err != nil {
			t.Fatalf("tombstone %s: %v", k, err)
		}
		delete(want, k)
	}
	// Unique keys push every update and tombstone out of the active
	// segment, which is never cleaned.
	for i := 0; i < 100; i++ {
		key := fmt.Sprintf("filler-%03d", i)
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte(key), Value: []byte("f")}).FirstErr(); err != nil {
			t.Fatalf("produce %s: %v", key, err)
		}
		want[key] = "f"
	}

	poll.Must(t, 60*time.Second, "the log compacted to the last value of each key, tombstones gone", func() error {
		got := keyedValues(t, b.Addr, topic)
		for k, vs := range got {
			if _, ok := want[k]; !ok {
				return fmt.Errorf("deleted key %s still has %v", k, vs)
			}
			if len(vs) != 1 {
				return fmt.Errorf("key %s has %d records", k, len(vs))
			}
		}
		for k, v := range want {
			if vs := got[k]; len(vs) == 0 || vs[len(vs)-1] != v {
				t.Fatalf("key %s: read %v, want last value %q", k, vs, v)
			}
		}
		return nil
	})
	m := scrape(t, "http://"+b.MetricsAddr+"/metrics")
	if m["kafki_log_cleaner_passes_total"] < 1 || m["kafki_log_cleaner_removed_records_total"] < 600 {
		t.Errorf("cleaner metrics: passes %v, removed %v", m["kafki_log_cleaner_passes_total"], m["kafki_log_cleaner_removed_records_total"])
	}
	if _, ok := m[`kafki_partition_last_clean_timestamp_seconds{partition="0",topic="compacted"}`]; !ok {
		t.Error("no last clean timestamp for the compacted partition")
	}
	if _, ok := m[`kafki_partition_cleanable_dirty_ratio{partition="0",topic="compacted"}`]; !ok {
		t.Error("no dirty ratio for the compacted partition")
	}
}

// TestCompactionBadInput: Kafka's errors for a keyless record on a
// compacted topic and for cleanup configs Kafka rejects, with nothing
// appended or changed.
func TestCompactionBadInput(t *testing.T) {
	const topic = "compacted-bad"
	b := StartBroker(t, Options{Flags: []string{"--tier.dir=" + filepath.Join(t.TempDir(), "tier")}})
	createCompactedTopic(t, b.Addr, topic, map[string]string{"cleanup.policy": "compact"})
	cl := newClient(t, b.Addr, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("no key")}).FirstErr()
	if !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("keyless record on a compacted topic: %v, want INVALID_RECORD", err)
	}
	if end := endOffsets(t, b.Addr, topic)[0]; end != 0 {
		t.Fatalf("log end %d after a refused keyless record", end)
	}

	adm := kadm.NewClient(newClient(t, b.Addr))
	for _, cfg := range []map[string]string{
		{"cleanup.policy": "compacted"},
		{"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "1.5"},
		{"cleanup.policy": "compact", "remote.storage.enable": "true"},
	} {
		c := map[string]*string{}
		for k, v := range cfg {
			c[k] = kadm.StringPtr(v)
		}
		resp, err := adm.CreateTopic(ctx, 1, 1, c, "bad-"+strconv.Itoa(len(cfg)))
		if err == nil {
			err = resp.Err
		}
		if !errors.Is(err, kerr.InvalidConfig) {
			t.Errorf("create with %v: %v, want INVALID_CONFIG", cfg, err)
		}
	}
	for _, set := range [][2]string{{"min.cleanable.dirty.ratio", "-1"}, {"cleanup.policy", "delete,shred"}, {"remote.storage.enable", "true"}} {
		v := set[1]
		resps, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: set[0], Value: &v}}, topic)
		if err == nil {
			var r kadm.AlterConfigsResponse
			if r, err = resps.On(topic, nil); err == nil {
				err = r.Err
			}
		}
		if !errors.Is(err, kerr.InvalidConfig) {
			t.Errorf("alter %s=%s: %v, want INVALID_CONFIG", set[0], set[1], err)
		}
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rc.Configs {
		switch c.Key {
		case "cleanup.policy", "min.cleanable.dirty.ratio", "remote.storage.enable":
			if want := map[string]string{"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.5", "remote.storage.enable": "false"}[c.Key]; c.MaybeValue() != want {
				t.Errorf("%s = %q after refused changes, want %q", c.Key, c.MaybeValue(), want)
			}
		}
	}
}

// TestCompactionCrash kills the broker with SIGKILL while its cleaner
// works (as soon as a .cleaned file appears, or at a random moment of a
// clean), restarts it, and checks after every restart that every key's
// last acknowledged value is what a consumer reads last for it, every
// record read is one that was produced, in order, and that compaction
// did remove records.
func TestCompactionCrash(t *testing.T) {
	seed := crashSeed(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kill schedule seed %d: rerun with KAFKI_E2E_SEED=%d", seed, seed)
		}
	})
	rng := rand.New(rand.NewPCG(uint64(seed), 0x636f6d70))
	const (
		topic  = "compact-crash"
		keys   = 40
		cycles = 8
	)
	// Throttled, so a clean lasts long enough to be killed in the middle.
	b := StartBroker(t, Options{Flags: append(compactionFlags, "--log.cleaner.io.max.bytes.per.second=400000")})
	createCompactedTopic(t, b.Addr, topic, map[string]string{
		"cleanup.policy": "compact", "segment.bytes": "4096", "min.cleanable.dirty.ratio": "0.01",
	})
	dir := filepath.Join(b.DataDir, topic+"-0")
	latest := map[string]int{}
	produced := 0
	killedMidClean := 0
	for cycle := 1; cycle <= cycles; cycle++ {
		cl := newClient(t, b.Addr, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		for i := 0; i < 600; i++ {
			k := fmt.Sprintf("key-%02d", rng.IntN(keys))
			produced++
			cl.Produce(ctx, &kgo.Record{Key: []byte(k), Value: []byte(fmt.Sprintf("%s:%d", k, produced))}, nil)
			latest[k] = produced
		}
		if err := cl.Flush(ctx); err != nil {
			t.Fatalf("cycle %d: flush: %v", cycle, err)
		}
		cancel()
		cl.Close()
		// The kill: at a .cleaned file (a clean writing its output), or
		// at a random moment; both reproducible from the seed. Waiting
		// for the file is the condition; the random delay is the fault
		// injection.
		midClean := poll.Within(context.Background(), 5*time.Second, "a clean in progress", func() error {
			if m, _ := filepath.Glob(filepath.Join(dir, "*.cleaned")); len(m) > 0 {
				return nil
			}
			return errors.New("no .cleaned file")
		}) == nil
		if rng.IntN(2) == 0 {
			time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		}
		b.Kill()
		if midClean {
			killedMidClean++
		}
		b.Start()

		got := readAll(t, b.Addr, topic, 30*time.Second)[0]
		last := map[string]int{}
		for _, r := range got {
			k, seqStr, ok := strings.Cut(string(r.Value), ":")
			seq, err := strconv.Atoi(seqStr)
			if !ok || err != nil || k != string(r.Key) || seq > produced {
				t.Fatalf("cycle %d: offset %d: record %q=%q was never produced", cycle, r.Offset, r.Key, r.Value)
			}
			if seq <= last[k] {
				t.Fatalf("cycle %d: offset %d: key %s seq %d after %d: out of order", cycle, r.Offset, k, seq, last[k])
			}
			last[k] = seq
		}
		for k, seq := range latest {
			if last[k] != seq {
				t.Fatalf("cycle %d: key %s: last record read has seq %d, the last acknowledged is %d", cycle, k, last[k], seq)
			}
		}
		t.Logf("cycle %d: killed mid-clean %v; %d records read of %d produced", cycle, midClean, len(got), produced)
		if cycle == cycles && len(got) >= produced/2 {
			t.Errorf("only %d of %d records removed after %d cycles: the cleaner did not run", produced-len(got), produced, cycles)
		}
	}
	logs := b.log.String()
	t.Logf("%d of %d kills during a clean; recoveries: %d swaps completed, %d unfinished cleans discarded", killedMidClean, cycles,
		strings.Count(logs, "completing an interrupted compaction swap"), strings.Count(logs, "discarding an unfinished compaction"))
	if killedMidClean == 0 {
		t.Error("no kill landed during a clean")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
}
