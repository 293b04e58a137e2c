package compat

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The two events of Kafka's quickstart.
var quickstartEvents = []string{"This is my first event", "This is my second event"}

// TestQuickstart runs Kafka's quickstart verbatim with Kafka's own tools:
// kafka-topics --create, --list and --describe, then kafka-console-producer
// with two lines. The records are read back with a Go client, without a
// group; the console consumer half of the quickstart is in
// compat_groups_test.go because Kafka's console consumer always joins a
// group.
func TestQuickstart(t *testing.T) {
	k := kafkaTools(t)
	b := startBroker(t)

	r := k.mustRun(t, "", topicsTool, "--create", "--topic", "test", "--partitions", "1", "--replication-factor", "1", "--bootstrap-server", b.Bootstrap())
	if !strings.Contains(r.stdout, "Created topic test.") {
		t.Fatalf("kafka-topics --create printed %q, want \"Created topic test.\"", r.stdout)
	}

	// Kafka lists its internal topics too (__consumer_offsets once a group
	// was used); the quickstart expects test among user topics, alone.
	r = k.mustRun(t, "", topicsTool, "--list", "--bootstrap-server", b.Bootstrap())
	got := slices.DeleteFunc(lines(r.stdout), func(name string) bool { return strings.HasPrefix(name, "__") })
	if !slices.Equal(got, []string{"test"}) {
		t.Fatalf("kafka-topics --list printed %q, want only test besides internal topics", r.stdout)
	}

	r = k.mustRun(t, "", topicsTool, "--describe", "--topic", "test", "--bootstrap-server", b.Bootstrap())
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^Topic: test\tTopicId: [A-Za-z0-9_-]{22}\tPartitionCount: 1\tReplicationFactor: 1\t`),
		regexp.MustCompile(`(?m)^\tTopic: test\tPartition: 0\tLeader: 1\tReplicas: 1\tIsr: 1\t`),
	} {
		if !want.MatchString(r.stdout) {
			t.Errorf("kafka-topics --describe printed:\n%s\nno line matches %s", r.stdout, want)
		}
	}
	// Kafka 4.x describes through DescribeTopicPartitions and prints
	// "Elr: N/A" only when it had to fall back to Metadata.
	if strings.Contains(r.stdout, "Elr: N/A") {
		t.Errorf("kafka-topics --describe fell back to Metadata (no DescribeTopicPartitions):\n%s", r.stdout)
	}
	if strings.Contains(r.stdout, "Partition: 1") {
		t.Errorf("kafka-topics --describe shows a second partition:\n%s", r.stdout)
	}

	k.mustRun(t, strings.Join(quickstartEvents, "\n")+"\n", consoleProducer, "--topic", "test", "--bootstrap-server", b.Bootstrap())
	got = readPartition(t, b.Addr(), "test", 0, len(quickstartEvents))
	if !slices.Equal(got, quickstartEvents) {
		t.Fatalf("test/0 holds %q after the console producer, want %q", got, quickstartEvents)
	}
}

// TestTopicAdmin grows and deletes a topic with kafka-topics (the Java
// admin client's CreatePartitions and DeleteTopics).
func TestTopicAdmin(t *testing.T) {
	k := kafkaTools(t)
	b := startBroker(t)
	k.mustRun(t, "", topicsTool, "--create", "--topic", "grow", "--partitions", "1", "--bootstrap-server", b.Bootstrap())
	k.mustRun(t, "", topicsTool, "--alter", "--topic", "grow", "--partitions", "3", "--bootstrap-server", b.Bootstrap())
	r := k.mustRun(t, "", topicsTool, "--describe", "--topic", "grow", "--bootstrap-server", b.Bootstrap())
	if !strings.Contains(r.stdout, "\tPartitionCount: 3\t") || !strings.Contains(r.stdout, "\tPartition: 2\tLeader: 1\t") {
		t.Errorf("kafka-topics --describe after --alter --partitions 3:\n%s", r.stdout)
	}
	k.mustRun(t, "", topicsTool, "--delete", "--topic", "grow", "--bootstrap-server", b.Bootstrap())
	r = k.mustRun(t, "", topicsTool, "--list", "--bootstrap-server", b.Bootstrap())
	if slices.Contains(lines(r.stdout), "grow") {
		t.Errorf("kafka-topics --list after --delete still shows grow:\n%s", r.stdout)
	}
}

// TestProducerPerformance runs kafka-producer-perf-test (the Java
// producer, idempotent by default in 4.x) flat out and checks that every
// record was acknowledged and is in the log.
func TestProducerPerformance(t *testing.T) {
	const records = 50000
	k := kafkaTools(t)
	b := startBroker(t)
	cl := newClient(t, b.Addr())
	createTopic(t, cl, "perf", 1)

	r := k.mustRun(t, "", producerPerfTest, "--topic", "perf", "--num-records", "50000", "--record-size", "100",
		"--throughput", "-1", "--command-property", "bootstrap.servers="+b.Bootstrap(), "acks=all")
	summary := regexp.MustCompile(`(?m)^(\d+) records sent, [\d.]+ records/sec \([\d.]+ MB/sec\), .*$`).FindStringSubmatch(r.stdout)
	if summary == nil || summary[1] != "50000" {
		t.Fatalf("kafka-producer-perf-test did not report %d records sent:\n%s\n%s", records, r.stdout, r.stderr)
	}
	t.Logf("kafka-producer-perf-test: %s", summary[0])

	// kafka-get-offsets asks ListOffsets through the Java admin client.
	r = k.mustRun(t, "", getOffsetsTool, "--bootstrap-server", b.Bootstrap(), "--topic", "perf", "--time", "-1")
	if got := lines(r.stdout); !slices.Equal(got, []string{"perf:0:50000"}) {
		t.Errorf("kafka-get-offsets --time -1 printed %q, want perf:0:50000", got)
	}

	ends, err := kadm.NewClient(cl).ListEndOffsets(ctxT(t), "perf")
	if err != nil {
		t.Fatalf("list end offsets: %v", err)
	}
	if o, ok := ends.Lookup("perf", 0); !ok || o.Err != nil || o.Offset != records {
		t.Fatalf("perf/0 ends at %+v, want %d records", o, records)
	}
}

// TestJavaClientCodecs produces with Kafka's console producer in every
// codec the Java client has (its batches, checksums and compression as
// brokerd must accept them) and reads everything back with Kafka's console
// consumer assigned to the partition (no group: brokerd's fetch responses as
// the Java client must decode them).
func TestJavaClientCodecs(t *testing.T) {
	k := kafkaTools(t)
	b := startBroker(t)
	cl := newClient(t, b.Addr())
	createTopic(t, cl, "codecs", 1)

	var want []string
	codecs := []string{"none", "gzip", "snappy", "lz4", "zstd"} // index = the codec's id in batch attributes
	for _, codec := range codecs {
		batch := []string{codec + " one", codec + " two", codec + " " + strings.Repeat("x", 2000)}
		k.mustRun(t, strings.Join(batch, "\n")+"\n", consoleProducer, "--bootstrap-server", b.Bootstrap(), "--topic", "codecs",
			"--compression-codec", codec)
		want = append(want, batch...)
	}
	recs := readRecords(t, b.Addr(), "codecs", 0, len(want))
	if got := values(recs); !slices.Equal(got, want) {
		t.Fatalf("codecs/0 holds %q, want %q", got, want)
	}
	for _, r := range recs {
		if codec := codecs[r.Attrs.CompressionType()%uint8(len(codecs))]; !strings.HasPrefix(string(r.Value), codec+" ") {
			t.Errorf("record %q came in a %s batch", r.Value, codec)
		}
	}

	r := k.mustRun(t, "", consoleConsumer, "--bootstrap-server", b.Bootstrap(), "--topic", "codecs",
		"--partition", "0", "--offset", "earliest", "--max-messages", strconv.Itoa(len(want)))
	if got := lines(r.stdout); !slices.Equal(got, want) {
		t.Fatalf("kafka-console-consumer --partition 0 printed %q, want %q", got, want)
	}
}

// readPartition reads n record values from topic/partition from its start
// with a Go client that assigns the partition itself (no group).
func readPartition(t *testing.T, addr, topic string, partition int32, n int) []string {
	t.Helper()
	return values(readRecords(t, addr, topic, partition, n))
}

func values(recs []*kgo.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Value)
	}
	return out
}

// readRecords reads n records of topic/partition from its start.
func readRecords(t *testing.T, addr, topic string, partition int32, n int) []*kgo.Record {
	t.Helper()
	cl := newClient(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		topic: {partition: kgo.NewOffset().AtStart()},
	}))
	ctx := ctxT(t)
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records of %s/%d: %q", len(out), n, topic, partition, values(out))
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		out = append(out, fs.Records()...)
	}
	return out
}

func newClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
