package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kcatTimeout bounds each kcat process; a healthy run takes well under a
// second.
const kcatTimeout = 10 * time.Second

// kcatFast are librdkafka settings that keep a short-lived kcat quick, by
// mode (the first argument): little batching delay, short fetch waits.
var kcatFast = map[string][]string{
	"-P": {"-X", "queue.buffering.max.ms=5"},
	"-C": {"-X", "fetch.wait.max.ms=50"},
}

// TestKcatCompression produces keyed lines with kcat (librdkafka) under
// every compression codec, consumes them back with kcat and with kgo, and
// checks the exact lines in order.
func TestKcatCompression(t *testing.T) {
	requireKcat(t)
	b := StartBroker(t, Options{})
	for _, codec := range []string{"", "gzip", "snappy", "lz4", "zstd"} {
		name := codec
		if name == "" {
			name = "none"
		}
		t.Run(name, func(t *testing.T) {
			topic := "kcat-" + name
			createTopic(t, b.Addr, topic, 1)
			keys, values := kcatLines(name, 300)
			var in strings.Builder
			for i := range keys {
				fmt.Fprintf(&in, "%s:%s\n", keys[i], values[i])
			}
			args := []string{"-P", "-b", b.Addr, "-t", topic, "-p", "0", "-K:"}
			if codec != "" {
				args = append(args, "-z", codec)
			}
			kcat(t, in.String(), args...)

			// librdkafka may silently produce uncompressed (a codec it
			// was built without, a batch too small to gain): the stored
			// batches must carry the codec asked for.
			want := kcatCodecs[codec]
			for i, got := range storedCodecs(t, b.Addr, topic) {
				if got != want {
					t.Fatalf("stored batch %d has codec %d, want %d (%s)", i, got, want, name)
				}
			}

			// kgo first: it checks what librdkafka wrote independently of
			// how the broker serves librdkafka's fetches.
			got := readAll(t, b.Addr, topic, 30*time.Second)[0]
			var sb strings.Builder
			for _, r := range got {
				fmt.Fprintf(&sb, "%s=%s\n", r.Key, r.Value)
			}
			compareLines(t, "kgo consume", sb.String(), keys, values)

			out := kcat(t, "", "-C", "-b", b.Addr, "-t", topic, "-p", "0", "-o", "beginning", "-e", "-f", `%k=%s\n`)
			compareLines(t, "kcat consume", out, keys, values)
		})
	}
}

// TestKcatReadsKgo checks that kcat consumes what kgo produced, with kgo's
// default batching and compression.
func TestKcatReadsKgo(t *testing.T) {
	requireKcat(t)
	b := StartBroker(t, Options{})
	const topic = "from-kgo"
	createTopic(t, b.Addr, topic, 1)
	keys, values := kcatLines("kgo", 250)
	recs := make([]*kgo.Record, len(keys))
	for i := range keys {
		recs[i] = &kgo.Record{Topic: topic, Key: []byte(keys[i]), Value: []byte(values[i])}
	}
	cl := newClient(t, b.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("kgo produce: %v", err)
	}
	out := kcat(t, "", "-C", "-b", b.Addr, "-t", topic, "-o", "beginning", "-e", "-f", `%k=%s\n`)
	compareLines(t, "kcat consume of kgo's records", out, keys, values)
}

// TestKcatMetadata checks kcat's metadata listing (-L -J) of a topic with
// several partitions.
func TestKcatMetadata(t *testing.T) {
	requireKcat(t)
	b := StartBroker(t, Options{})
	const topic, parts = "listed", 4
	createTopic(t, b.Addr, topic, parts)
	out := kcat(t, "", "-L", "-b", b.Addr, "-t", topic, "-J")

	var md kcatMetadata
	if err := json.Unmarshal([]byte(out), &md); err != nil {
		t.Fatalf("kcat -L -J output is not JSON: %v\n%s", err, out)
	}
	if len(md.Brokers) != 1 || md.Brokers[0].Name != b.Addr {
		t.Errorf("brokers = %+v, want one named %s", md.Brokers, b.Addr)
	}
	if len(md.Topics) != 1 || md.Topics[0].Topic != topic {
		t.Fatalf("topics = %+v, want just %q\n%s", md.Topics, topic, out)
	}
	tp := md.Topics[0]
	if tp.Error != "" {
		t.Errorf("topic %q has error %q", topic, tp.Error)
	}
	seen := map[int32]bool{}
	for _, p := range tp.Partitions {
		seen[p.Partition] = true
		if p.Error != "" {
			t.Errorf("partition %d has error %q", p.Partition, p.Error)
		}
		if len(md.Brokers) > 0 && p.Leader != md.Brokers[0].ID {
			t.Errorf("partition %d leader %d, want broker %d", p.Partition, p.Leader, md.Brokers[0].ID)
		}
	}
	for p := int32(0); p < parts; p++ {
		if !seen[p] {
			t.Errorf("partition %d missing from kcat's listing", p)
		}
	}
	if len(tp.Partitions) != parts {
		t.Errorf("kcat lists %d partitions, want %d\n%s", len(tp.Partitions), parts, out)
	}
}

// requireKcat fails (does not skip) when kcat is missing: compatibility
// with librdkafka is part of the suite.
func requireKcat(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Fatalf("kcat is not on PATH (%v): run `make test-deps`, which installs it (Debian package kcat)", err)
	}
}

// kcat runs kcat with stdin and the fast settings, bounded by kcatTimeout,
// and returns its stdout. It fails the test on a non-zero exit.
func kcat(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kcatTimeout)
	defer cancel()
	what := strings.Join(args, " ")
	args = append(append([]string{}, args...), kcatFast[args[0]]...)
	args = append(args, "-X", "socket.connection.setup.timeout.ms=5000")
	cmd := exec.CommandContext(ctx, "kcat", args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("kcat %s: still running after %v (killed)\nstderr (start):\n%s", strings.Join(args, " "), kcatTimeout, head(stderr.String(), 12))
	}
	if err != nil {
		t.Fatalf("kcat %s: %v\nstderr (start):\n%s", strings.Join(args, " "), err, head(stderr.String(), 12))
	}
	t.Logf("kcat %s: %v", what, time.Since(start).Round(time.Millisecond))
	return stdout.String()
}

// kcatLines makes n keys and values: printable, varied in length, some
// long and repetitive so compression has work to do, none containing the
// ':' key delimiter or a newline.
func kcatLines(tag string, n int) (keys, values []string) {
	for i := 0; i < n; i++ {
		keys = append(keys, fmt.Sprintf("%s-k%03d", tag, i))
		v := fmt.Sprintf("value %d of %s = ünïcødé ✓", i, tag)
		if i%7 == 0 {
			v += " " + strings.Repeat("compressible ", 80)
		}
		values = append(values, v)
	}
	return keys, values
}

// compareLines checks out is exactly "key=value\n" per pair, in order.
func compareLines(t *testing.T, what, out string, keys, values []string) {
	t.Helper()
	got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if out == "" {
		got = nil
	}
	if len(got) != len(keys) {
		t.Errorf("%s: %d lines, want %d\nfirst lines:\n%s", what, len(got), len(keys), tail(head(out, 20), 4096))
	}
	for i := 0; i < min(len(got), len(keys)); i++ {
		if want := keys[i] + "=" + values[i]; got[i] != want {
			t.Errorf("%s: line %d = %.80q, want %.80q", what, i, got[i], want)
			return
		}
	}
}

// head returns the first n lines of s.
func head(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "")
}

// kcatCodecs maps kcat's -z names to the codec ids in a batch's
// attributes (the low three bits).
var kcatCodecs = map[string]int8{"": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}

// storedCodecs fetches partition 0 of topic raw, as the broker stores it,
// and returns each batch's codec id; it fails the test if there is none.
func storedCodecs(t *testing.T, addr, topic string) []int8 {
	t.Helper()
	cl := newClient(t, addr)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	md, err := kadm.NewClient(cl).Metadata(ctx, topic)
	if err != nil {
		t.Fatalf("metadata of %q: %v", topic, err)
	}
	td, ok := md.Topics[topic]
	if !ok || td.Err != nil {
		t.Fatalf("metadata of %q: %v", topic, td.Err)
	}
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxBytes = 64 << 20
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, td.ID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = 0, 64<<20, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("raw fetch of %q: %v", topic, err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("raw fetch of %q: %d topics in the response", topic, len(resp.Topics))
	}
	part := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(part.ErrorCode); err != nil {
		t.Fatalf("raw fetch of %q: %v", topic, err)
	}
	var codecs []int8
	for raw := part.RecordBatches; len(raw) > 0; {
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(raw); err != nil {
			t.Fatalf("raw fetch of %q: batch %d: %v", topic, len(codecs), err)
		}
		codecs = append(codecs, int8(rb.Attributes&7))
		raw = raw[12+int(rb.Length):]
	}
	if len(codecs) == 0 {
		t.Fatalf("raw fetch of %q: no batches", topic)
	}
	return codecs
}
