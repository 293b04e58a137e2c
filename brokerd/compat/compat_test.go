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
