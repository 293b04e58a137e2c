package compat

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kafki/kafki/brokerd/cli"
	"github.com/kafki/kafki/internal/poll"
	"github.com/kafki/kafki/loadtest/compare"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// mirrorTopic is a topic the MirrorMaker 2 test creates on Kafka.
type mirrorTopic struct {
	name       string
	partitions int32
	configs    map[string]*string // non-default, as MM2 must carry them over
}

var mirrorTopics = []mirrorTopic{
	{"mm-orders", 3, nil},
	{"mm-events", 4, map[string]*string{"retention.ms": kadm.StringPtr("3600000")}},
	{"mm-users", 2, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}},
}

// The consumer group the test moves from Kafka to Kafki: drained on
// mm-orders, halfway through mm-events.
const mirrorGroup = "app"

// kafkaServerLibs is the directory of Apache Kafka's broker jars (make
// kafka-deps), from KAFKI_KAFKA_LIBS or its default place.
func kafkaServerLibs(t *testing.T) string {
	t.Helper()
	libs := os.Getenv(compare.KafkaLibsEnv)
	if libs == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Fatal(err)
		}
		libs = filepath.Join(home, ".cache", "kafki", "kafka-server-4.3.1", "libs")
	}
	if _, err := os.Stat(filepath.Join(libs, "kafka_2.13-4.3.1.jar")); err != nil {
		t.Fatalf("no Apache Kafka broker jars in %s (%v): run `make kafka-deps` or set %s", libs, err, compare.KafkaLibsEnv)
	}
	return libs
}

// startKafka starts a one-node Apache Kafka 4.3 (KRaft) on loopback, as
// loadtest/compare does, stopped at cleanup.
func startKafka(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	kc, err := compare.StartKafka(ctx, compare.KafkaOptions{
		LibDir: kafkaServerLibs(t), JVMOpts: []string{"-Xmx512M", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"},
		Nodes: 1, Fsync: compare.FsyncPageCache, Timeout: 90 * time.Second,
	})
	if err != nil {
		t.Fatalf("start Apache Kafka: %v", err)
	}
	t.Cleanup(func() {
		if err := kc.Stop(30 * time.Second); err != nil {
			t.Error(err)
		}
	})
	return kc.Bootstrap()
}

func kgoClient(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// TestMirrorMaker2FromKafka migrates three topics and a consumer group
// from a real Apache Kafka 4.3 KRaft node into Kafki with MirrorMaker 2
// (connect-mirror's MirrorMaker driver, an mm2.properties as README's
// "Migrating from Kafka" shows, IdentityReplicationPolicy so topics keep
// their names):
//
//   - every record arrives in the partition it had, at the offset it had,
//     with its key, value, header and timestamp; the topics' partition counts and
//     non-default configs are carried over;
//   - the group's committed offsets are translated
//     (MirrorCheckpointConnector, sync.group.offsets.enabled): never past
//     Kafka's (a gap would lose records), and exactly Kafka's where the
//     group had drained its partitions, the usual cut-over (MM2 translates
//     the offset right after its newest offset sync exactly, an older one
//     to the last sync it kept before it: the step back grows with the
//     distance to the newest sync);
//   - a consumer of that group on Kafki then continues: it reads every
//     record past Kafka's committed offsets once, and before them only the
//     records of MM2's at-least-once window, which the test measures and
//     logs. Left mid-log (mm-events), MM2 translates to the last offset
//     sync it kept before the offset, or not at all when it kept none
//     (then the consumer starts from the beginning): the window is large
//     there, and README says to drain consumers before moving them.
//
// KAFKI_MM2_BENCH_RECORDS=N (make mm2-bench) mirrors N more 1 KiB records
// once the migration is checked and logs the throughput.
func TestMirrorMaker2FromKafka(t *testing.T) {
	k := kafkaTools(t)
	kafkaAddr := startKafka(t)
	b := startBroker(t, "--group.initial.rebalance.delay=0s")
	ctx := t.Context()
	src := kgoClient(t, kgo.SeedBrokers(kafkaAddr))
	dst := kgoClient(t, kgo.SeedBrokers(b.Addr()))
	srcAdm, dstAdm := kadm.NewClient(src), kadm.NewClient(dst)

	for _, mt := range mirrorTopics {
		if _, err := srcAdm.CreateTopic(ctx, mt.partitions, 1, mt.configs, mt.name); err != nil {
			t.Fatalf("create %s on Kafka: %v", mt.name, err)
		}
	}
	produceMirror(t, kafkaAddr, 0, 2000)
	checkMigratePlan(t, kafkaAddr)
	// The application already runs on Kafka when MM2 starts: MM2's
	// checkpoint task then reads the offset syncs as they come, which it
	// keeps denser than those it finds written before it started.
	consumeOnKafka(t, kafkaAddr, map[string]int64{"mm-orders": 100, "mm-events": 100})

	dir := t.TempDir()
	props := filepath.Join(dir, "mm2.properties")
	writeProperties(t, props, mm2Properties(kafkaAddr, b.Bootstrap()))
	mm := k.startJVM(t, "mirror-maker", mirrorMaker2, props)
	waitMirrored(t, srcAdm, dstAdm, mm)

	// The producers go on while MM2 runs; the group consumes on Kafka.
	produceMirror(t, kafkaAddr, 2000, 3000)
	kafkaCommitted := consumeOnKafka(t, kafkaAddr, map[string]int64{"mm-orders": 3000, "mm-events": 1500})
	kafkiCommitted := waitTranslated(t, b.Addr(), dstAdm, kafkaCommitted, mm)
	// The producers go on once the consumers moved to Kafki.
	produceMirror(t, kafkaAddr, 3000, 3500)
	waitMirrored(t, srcAdm, dstAdm, mm)
	checkRecords(t, kafkaAddr, b.Addr())
	checkTopics(t, srcAdm, dstAdm)

	window := continueOnKafki(t, b.Addr(), kafkaCommitted, kafkiCommitted)
	t.Logf("MM2's at-least-once window: %d records re-read on Kafki, all on mm-events (left mid-log); none on the drained mm-orders", window)

	if errs := mm.errors(); len(errs) > 0 {
		t.Errorf("MirrorMaker logged errors:\n%s", strings.Join(errs, "\n"))
	}
	if n, _ := strconv.Atoi(os.Getenv("KAFKI_MM2_BENCH_RECORDS")); n > 0 {
		benchMirror(t, kafkaAddr, srcAdm, dstAdm, mm, n)
	}
}

// mm2Properties is the MirrorMaker 2 configuration of README's
// "Migrating from Kafka", with intervals shortened for the test.
func mm2Properties(kafka, kafki string) map[string]string {
	return map[string]string{
		"clusters":                 "kafka, kafki",
		"kafka.bootstrap.servers":  kafka,
		"kafki.bootstrap.servers":  kafki,
		"kafka->kafki.enabled":     "true",
		"kafka->kafki.topics":      "mm-.*",
		"kafka->kafki.groups":      mirrorGroup,
		"kafki->kafka.enabled":     "false",
		"replication.policy.class": "org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
		// One node each side: the broker's default replication factor.
		"replication.factor":                    "-1",
		"checkpoints.topic.replication.factor":  "-1",
		"heartbeats.topic.replication.factor":   "-1",
		"offset-syncs.topic.replication.factor": "-1",
		"offset.storage.replication.factor":     "-1",
		"status.storage.replication.factor":     "-1",
		"config.storage.replication.factor":     "-1",
		"sync.group.offsets.enabled":            "true",
		"sync.group.offsets.interval.seconds":   "1",
		"emit.checkpoints.interval.seconds":     "1",
		"refresh.topics.interval.seconds":       "5",
		"refresh.groups.interval.seconds":       "2",
		"offset.flush.interval.ms":              "1000",
		// Emit an offset sync for every record, so that a group's offset
		// translates with the least step back MM2 allows.
		"offset.lag.max":                      "0",
		"dedicated.mode.enable.internal.rest": "false",
	}
}

// mirrorValue is the value of record i of topic's partition p.
func mirrorValue(topic string, p int32, i int) string {
	return fmt.Sprintf("%s/%d/%d", topic, p, i)
}

// produceMirror writes records [from, to) to every partition of every
// topic, keyed key-i (mm-users: unique keys, so compaction keeps all).
func produceMirror(t *testing.T, addr string, from, to int) {
	t.Helper()
	var recs []*kgo.Record
	for _, mt := range mirrorTopics {
		for p := range mt.partitions {
			for i := from; i < to; i++ {
				key := "key-" + strconv.Itoa(i%50)
				if mt.name == "mm-users" {
					key = fmt.Sprintf("user-%d-%d", p, i)
				}
				recs = append(recs, &kgo.Record{Topic: mt.name, Partition: p, Key: []byte(key), Value: []byte(mirrorValue(mt.name, p, i)),
					Headers: []kgo.RecordHeader{{Key: "seq", Value: []byte(strconv.Itoa(i))}}})
			}
		}
	}
	produceManual(t, addr, recs)
}

// produceManual produces recs to their set partitions.
func produceManual(t *testing.T, addr string, recs []*kgo.Record) {
	t.Helper()
	cl := kgoClient(t, kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(5*time.Millisecond))
	if err := cl.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	cl.Close()
}

// waitMirrored waits until every partition of the topics has the same
// end offset on Kafki as on Kafka.
func waitMirrored(t *testing.T, srcAdm, dstAdm *kadm.Client, mm *jvm) {
	t.Helper()
	names := mirrorTopicNames()
	want, err := srcAdm.ListEndOffsets(t.Context(), names...)
	if err != nil {
		t.Fatalf("Kafka end offsets: %v", err)
	}
	poll.Must(t, connectTimeout, "mirrored end offsets", func() error {
		if mm.proc.Done() {
			t.Fatalf("MirrorMaker exited: %v", mm.proc.Err())
		}
		got, err := dstAdm.ListEndOffsets(t.Context(), names...)
		if err != nil {
			return err
		}
		var behind []string
		want.Each(func(w kadm.ListedOffset) {
			g, ok := got.Lookup(w.Topic, w.Partition)
			if !ok || g.Err != nil || g.Offset != w.Offset {
				behind = append(behind, fmt.Sprintf("%s-%d %d/%d", w.Topic, w.Partition, g.Offset, w.Offset))
			}
		})
		if len(behind) > 0 {
			return fmt.Errorf("behind: %s", strings.Join(behind, ", "))
		}
		return nil
	})
}

func mirrorTopicNames() []string {
	var names []string
	for _, mt := range mirrorTopics {
		names = append(names, mt.name)
	}
	return names
}

// consumeOnKafka runs the group on Kafka as an application would, from
// its committed offsets (or the start) up to limit in every partition of
// each topic (mm-orders ends at 3,000 until the last records are
// produced): it commits what it processed, once, and leaves. It returns
// the committed offsets, read back from Kafka.
func consumeOnKafka(t *testing.T, kafkaAddr string, limit map[string]int64) kadm.OffsetResponses {
	t.Helper()
	adm := kadm.NewClient(kgoClient(t, kgo.SeedBrokers(kafkaAddr)))
	// A fresh Kafka answers COORDINATOR_NOT_AVAILABLE until it has
	// created and loaded __consumer_offsets.
	var before kadm.OffsetResponses
	poll.Must(t, groupTimeout, "Kafka's group coordinator", func() error {
		var err error
		before, err = adm.FetchOffsets(t.Context(), mirrorGroup)
		return err
	})
	cl := kgoClient(t, kgo.SeedBrokers(kafkaAddr), kgo.ConsumerGroup(mirrorGroup),
		kgo.ConsumeTopics("mm-orders", "mm-events"), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxPartitionBytes(16<<10))
	need := 0
	for _, mt := range mirrorTopics {
		for p := range mt.partitions {
			if l, ok := limit[mt.name]; ok {
				from, _ := before.Lookup(mt.name, p)
				need += int(l - max(from.At, 0))
			}
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), groupTimeout)
	defer cancel()
	processed := 0
	var commit []*kgo.Record
	for processed < need {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("group %s on Kafka processed %d of %d records: %v", mirrorGroup, processed, need, ctx.Err())
		}
		if err := fs.Err0(); err != nil {
			t.Fatalf("consume on Kafka: %v", err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= limit[r.Topic] {
				return
			}
			commit = append(commit, r)
			processed++
		})
	}
	// One commit, as on close: MM2's first checkpoint of the group is then
	// of its final offsets, and the window measured is MM2's alone, not
	// that of a checkpoint of an earlier commit.
	if err := cl.CommitRecords(ctx, commit...); err != nil {
		t.Fatalf("commit on Kafka: %v", err)
	}
	cl.Close() // leaves the group, which MM2 needs inactive on Kafki
	offs, err := adm.FetchOffsets(t.Context(), mirrorGroup)
	if err != nil {
		t.Fatalf("fetch %s's offsets on Kafka: %v", mirrorGroup, err)
	}
	n := 0
	offs.Each(func(o kadm.OffsetResponse) {
		n++
		if want := limit[o.Topic]; o.At != want {
			t.Fatalf("Kafka has %s at %d for %s-%d, the consumer committed %d", mirrorGroup, o.At, o.Topic, o.Partition, want)
		}
	})
	if n != 3+4 {
		t.Fatalf("Kafka has %s offsets for %d partitions, want 7", mirrorGroup, n)
	}
	return offs
}

// readAll reads every record of the topics from addr, per partition.
func readAll(t *testing.T, addr string) map[string][]*kgo.Record {
	t.Helper()
	cl := kgoClient(t, kgo.SeedBrokers(addr), kgo.ConsumeTopics(mirrorTopicNames()...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ends, err := kadm.NewClient(cl).ListEndOffsets(t.Context(), mirrorTopicNames()...)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	ends.Each(func(o kadm.ListedOffset) { want += int(o.Offset) })
	out := map[string][]*kgo.Record{}
	ctx, cancel := context.WithTimeout(t.Context(), groupTimeout)
	defer cancel()
	for n := 0; n < want; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records from %s", n, want, addr)
		}
		fs.EachRecord(func(r *kgo.Record) {
			k := fmt.Sprintf("%s-%d", r.Topic, r.Partition)
			out[k] = append(out[k], r)
			n++
		})
	}
	return out
}

// checkRecords compares every record on Kafki with Kafka's.
func checkRecords(t *testing.T, kafkaAddr, kafkiAddr string) {
	t.Helper()
	want, got := readAll(t, kafkaAddr), readAll(t, kafkiAddr)
	total := 0
	for tp, ws := range want {
		gs := got[tp]
		if len(gs) != len(ws) {
			t.Fatalf("%s: %d records on Kafki, %d on Kafka", tp, len(gs), len(ws))
		}
		for i, w := range ws {
			g := gs[i]
			if len(g.Headers) != len(w.Headers) || (len(w.Headers) == 1 && (g.Headers[0].Key != w.Headers[0].Key || !bytes.Equal(g.Headers[0].Value, w.Headers[0].Value))) {
				t.Fatalf("%s record %d: Kafki has headers %v, Kafka %v", tp, i, g.Headers, w.Headers)
			}
			if g.Offset != w.Offset || !bytes.Equal(g.Key, w.Key) || !bytes.Equal(g.Value, w.Value) || !g.Timestamp.Equal(w.Timestamp) {
				t.Fatalf("%s record %d: Kafki has offset %d key %q value %q at %v; Kafka offset %d key %q value %q at %v",
					tp, i, g.Offset, g.Key, g.Value, g.Timestamp, w.Offset, w.Key, w.Value, w.Timestamp)
			}
		}
		total += len(ws)
	}
	if len(got) != len(want) {
		t.Fatalf("Kafki has records in %d partitions, Kafka in %d", len(got), len(want))
	}
	t.Logf("%d records in %d partitions mirrored with their partitions, offsets, keys, values, headers and timestamps", total, len(want))
}

// checkTopics compares partition counts and the non-default configs.
func checkTopics(t *testing.T, srcAdm, dstAdm *kadm.Client) {
	t.Helper()
	got, err := dstAdm.ListTopics(t.Context(), mirrorTopicNames()...)
	if err != nil {
		t.Fatal(err)
	}
	rcs, err := dstAdm.DescribeTopicConfigs(t.Context(), mirrorTopicNames()...)
	if err != nil {
		t.Fatal(err)
	}
	for _, mt := range mirrorTopics {
		if n := len(got[mt.name].Partitions); n != int(mt.partitions) {
			t.Errorf("%s has %d partitions on Kafki, %d on Kafka", mt.name, n, mt.partitions)
		}
		rc, err := rcs.On(mt.name, nil)
		if err != nil {
			t.Fatal(err)
		}
		for key, val := range mt.configs {
			var have string
			for _, c := range rc.Configs {
				if c.Key == key {
					have = c.MaybeValue()
				}
			}
			if have != *val {
				t.Errorf("%s on Kafki has %s=%q, Kafka %q", mt.name, key, have, *val)
			}
		}
	}
}

// checkpoint is one record of MM2's checkpoints topic on Kafki
// (org.apache.kafka.connect.mirror.Checkpoint): the group's offset on
// Kafka and its translation.
type checkpoint struct {
	group, topic         string
	partition            int32
	upstream, downstream int64
}

// parseCheckpoint decodes a checkpoint record: the key is group and topic
// (int16-length strings) and partition (int32); the value a version
// (int16), then the upstream and downstream offsets (int64).
func parseCheckpoint(key, value []byte) (checkpoint, error) {
	var c checkpoint
	str := func(b []byte) (string, []byte, error) {
		if len(b) < 2 || len(b) < 2+int(binary.BigEndian.Uint16(b)) {
			return "", nil, fmt.Errorf("short string in %x", key)
		}
		n := int(binary.BigEndian.Uint16(b))
		return string(b[2 : 2+n]), b[2+n:], nil
	}
	var err error
	rest := key
	if c.group, rest, err = str(rest); err != nil {
		return c, err
	}
	if c.topic, rest, err = str(rest); err != nil {
		return c, err
	}
	if len(rest) != 4 || len(value) < 18 {
		return c, fmt.Errorf("checkpoint key %x value %x: unexpected length", key, value)
	}
	c.partition = int32(binary.BigEndian.Uint32(rest))
	c.upstream = int64(binary.BigEndian.Uint64(value[2:]))
	c.downstream = int64(binary.BigEndian.Uint64(value[10:]))
	return c, nil
}

// waitTranslated waits until MM2 has checkpointed the group's final
// offsets (checkpoints on Kafki of the final commit) and applied them to
// the group on Kafki; it checks none is past Kafka's and the drained mm-orders ones
// are exact, and returns the group's offsets on Kafki.
func waitTranslated(t *testing.T, kafkiAddr string, dstAdm *kadm.Client, kafka kadm.OffsetResponses, mm *jvm) kadm.OffsetResponses {
	t.Helper()
	cl := kgoClient(t, kgo.SeedBrokers(kafkiAddr), kgo.ConsumeTopics("kafka.checkpoints.internal"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	latest := map[string]checkpoint{}
	var got kadm.OffsetResponses
	poll.Must(t, connectTimeout, "translated group offsets", func() error {
		if mm.proc.Done() {
			t.Fatalf("MirrorMaker exited: %v", mm.proc.Err())
		}
		ctx, cancel := context.WithTimeout(t.Context(), pollInterval*4)
		fs := cl.PollFetches(ctx)
		cancel()
		var bad error
		fs.EachRecord(func(r *kgo.Record) {
			c, err := parseCheckpoint(r.Key, r.Value)
			if err != nil {
				bad = err
				return
			}
			if c.group == mirrorGroup {
				latest[fmt.Sprintf("%s-%d", c.topic, c.partition)] = c
			}
		})
		if bad != nil {
			t.Fatal(bad)
		}
		var err error
		if got, err = dstAdm.FetchOffsets(t.Context(), mirrorGroup); err != nil {
			return err
		}
		var waiting []string
		kafka.Each(func(o kadm.OffsetResponse) {
			tp := fmt.Sprintf("%s-%d", o.Topic, o.Partition)
			c, ok := latest[tp]
			g, _ := got.Lookup(o.Topic, o.Partition)
			switch {
			// MM2 checkpoints every partition of a group in one pass, but
			// writes a checkpoint only when the translation moved, and
			// none for an offset it cannot translate (older than the
			// offset syncs it kept): once the drained mm-orders ones show
			// the final commit, mm-events have what MM2 will give them.
			case o.Topic == "mm-orders" && (!ok || c.upstream != o.At):
				waiting = append(waiting, fmt.Sprintf("%s checkpoint of %d (have %d)", tp, o.At, c.upstream))
			case ok && g.At != c.downstream:
				waiting = append(waiting, fmt.Sprintf("%s at %d, checkpoint %d", tp, g.At, c.downstream))
			}
		})
		if len(waiting) > 0 {
			return fmt.Errorf("waiting for %s", strings.Join(waiting, ", "))
		}
		return nil
	})
	kafka.Each(func(o kadm.OffsetResponse) {
		g, ok := got.Lookup(o.Topic, o.Partition)
		if !ok {
			t.Logf("%s %s-%d: committed %d on Kafka, not translated by MM2 (no offset on Kafki)", mirrorGroup, o.Topic, o.Partition, o.At)
			return
		}
		t.Logf("%s %s-%d: committed %d on Kafka, translated to %d on Kafki", mirrorGroup, o.Topic, o.Partition, o.At, g.At)
		if g.At > o.At || g.At < 0 {
			t.Errorf("%s-%d translated to %d, past Kafka's %d: records %d to %d would never be read on Kafki", o.Topic, o.Partition, g.At, o.At, o.At, g.At-1)
		}
		if o.Topic == "mm-orders" && g.At != o.At {
			t.Errorf("drained %s-%d translated to %d, not Kafka's %d", o.Topic, o.Partition, g.At, o.At)
		}
	})
	return got
}

// continueOnKafki consumes as the group on Kafki from its translated
// offsets to the ends and checks that it reads each record once, from
// the translated offset on: the records before Kafka's committed offset
// are the re-read window, whose size it returns.
func continueOnKafki(t *testing.T, kafkiAddr string, kafka, kafki kadm.OffsetResponses) int {
	t.Helper()
	cl := kgoClient(t, kgo.SeedBrokers(kafkiAddr), kgo.ConsumerGroup(mirrorGroup),
		kgo.ConsumeTopics("mm-orders", "mm-events"), kgo.DisableAutoCommit(),
		// Where MM2 translated nothing, at-least-once means from the start.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.SessionTimeout(6*time.Second))
	ends, err := kadm.NewClient(cl).ListEndOffsets(t.Context(), "mm-orders", "mm-events")
	if err != nil {
		t.Fatal(err)
	}
	next := map[string]int64{}
	want := 0
	kafka.Each(func(o kadm.OffsetResponse) {
		from := int64(0)
		if g, ok := kafki.Lookup(o.Topic, o.Partition); ok {
			from = g.At
		}
		next[fmt.Sprintf("%s-%d", o.Topic, o.Partition)] = from
		e, _ := ends.Lookup(o.Topic, o.Partition)
		want += int(e.Offset - from)
	})
	window := 0
	ctx, cancel := context.WithTimeout(t.Context(), groupTimeout)
	defer cancel()
	for n := 0; n < want; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("group %s on Kafki read %d of the %d records past its offsets", mirrorGroup, n, want)
		}
		fs.EachRecord(func(r *kgo.Record) {
			tp := fmt.Sprintf("%s-%d", r.Topic, r.Partition)
			if r.Offset != next[tp] {
				t.Fatalf("group %s on Kafki read %s offset %d, want %d (gap or duplicate)", mirrorGroup, tp, r.Offset, next[tp])
			}
			next[tp]++
			if want := mirrorValue(r.Topic, r.Partition, int(r.Offset)); string(r.Value) != want {
				t.Fatalf("%s offset %d has %q, want %q", tp, r.Offset, r.Value, want)
			}
			if k, _ := kafka.Lookup(r.Topic, r.Partition); r.Offset < k.At {
				window++
			}
			n++
		})
	}
	return window
}

// benchMirror produces n 1 KiB records to a fresh 3-partition topic on
// Kafka while MM2 runs, and logs how fast they arrive on Kafki: from the
// first record's arrival to the last's (the JVM warm-up and the topic's
// discovery, refresh.topics.interval.seconds, are not counted).
func benchMirror(t *testing.T, kafkaAddr string, srcAdm, dstAdm *kadm.Client, mm *jvm, n int) {
	t.Helper()
	const topic, size = "mm-bench", 1024
	if _, err := srcAdm.CreateTopic(t.Context(), 3, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	// The topic must be mirrored (created on Kafki) before the clock runs.
	produceManual(t, kafkaAddr, []*kgo.Record{{Topic: topic, Partition: 0, Value: []byte("first")}})
	waitEnd(t, dstAdm, mm, topic, 1, 30*time.Second)
	val := bytes.Repeat([]byte("x"), size)
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i % 3), Key: []byte(strconv.Itoa(i)), Value: val})
	}
	start := time.Now()
	produceManual(t, kafkaAddr, recs)
	produced := time.Since(start)
	waitEnd(t, dstAdm, mm, topic, int64(n)+1, 5*time.Minute)
	took := time.Since(start)
	rate := float64(n) / took.Seconds()
	t.Logf("MM2 benchmark: %d records of %d B from Kafka into Kafki in %v (produced into Kafka in %v): %.0f records/s, %.1f MB/s",
		n, size, took.Round(time.Millisecond), produced.Round(time.Millisecond), rate, rate*size/1e6)
}

// waitEnd waits until topic's partitions on Kafki hold total records.
func waitEnd(t *testing.T, adm *kadm.Client, mm *jvm, topic string, total int64, timeout time.Duration) {
	t.Helper()
	poll.Must(t, timeout, topic+" on Kafki", func() error {
		if mm.proc.Done() {
			t.Fatalf("MirrorMaker exited: %v", mm.proc.Err())
		}
		ends, err := adm.ListEndOffsets(t.Context(), topic)
		if err != nil {
			return err
		}
		var sum int64
		ends.Each(func(o kadm.ListedOffset) { sum += o.Offset })
		if sum != total {
			return fmt.Errorf("%d of %d records", sum, total)
		}
		return nil
	})
}

// checkMigratePlan runs `kafki migrate plan` against the Kafka node: one
// row per topic with its partitions, replication factor and exactly the
// configs set on it, and a create command per topic.
func checkMigratePlan(t *testing.T, kafkaAddr string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := cli.Run(t.Context(), []string{"migrate", "plan", "--source", kafkaAddr}, cli.Env{Stdout: &stdout, Stderr: &stderr})
	if code != cli.ExitOK {
		t.Fatalf("kafki migrate plan exited %d: %s", code, stderr.String())
	}
	out := stdout.String()
	t.Logf("kafki migrate plan --source %s:\n%s", kafkaAddr, out)
	rows := map[string][]string{}
	for _, l := range lines(out) {
		if f := strings.Fields(l); len(f) >= 6 && strings.HasPrefix(f[0], "mm-") {
			rows[f[0]] = f
		}
	}
	if !strings.HasPrefix(out, "Source cluster ") || !strings.Contains(out, " 1 brokers, 3 topics, 9 partitions, 9 replicas, ") {
		t.Errorf("plan's summary line is wrong:\n%s", out)
	}
	for _, mt := range mirrorTopics {
		f, ok := rows[mt.name]
		if !ok {
			t.Errorf("plan has no row for %s", mt.name)
			continue
		}
		want := "-"
		var cfgs []string
		for k, v := range mt.configs {
			cfgs = append(cfgs, k+"="+*v)
		}
		if len(cfgs) > 0 {
			want = strings.Join(cfgs, ",")
		}
		// TOPIC PARTITIONS REPLICATION SIZE(2 fields) CONFIGS
		if f[1] != strconv.Itoa(int(mt.partitions)) || f[2] != "1" || f[5] != want {
			t.Errorf("plan row %q, want %d partitions, replication 1, configs %s", strings.Join(f, " "), mt.partitions, want)
		}
		create := "kafki topics create --topic " + mt.name + " --partitions " + strconv.Itoa(int(mt.partitions)) + " --replication-factor 1"
		if !strings.Contains(out, create) {
			t.Errorf("plan has no %q", create)
		}
	}
	if strings.Contains(out, "__consumer_offsets") {
		t.Errorf("plan lists internal topics without --include-internal:\n%s", out)
	}
}
