package cli_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/brokerd/cli"
)

// batchCompression reads topic/partition 0 from the start with a raw
// client and returns the compression type (Kafka's attribute bits: 0 none,
// 1 gzip, 2 snappy, 3 lz4, 4 zstd) of every batch it holds.
func batchCompression(t *testing.T, bootstrap, topic string, records int) []uint8 {
	t.Helper()
	hook := &compressionHook{}
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.WithHooks(hook),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for got := 0; got < records; {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("raw fetch: %v", err)
		}
		got += fs.NumRecords()
	}
	return hook.types()
}

type compressionHook struct {
	mu    sync.Mutex
	codes []uint8
}

func (h *compressionHook) OnFetchBatchRead(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.FetchBatchMetrics) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.codes = append(h.codes, m.CompressionType)
}

func (h *compressionHook) types() []uint8 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]uint8(nil), h.codes...)
}

func TestProduceConsumeEachCodec(t *testing.T) {
	bs := startBroker(t)
	codecs := []struct {
		name string
		code uint8
	}{{"none", 0}, {"gzip", 1}, {"snappy", 2}, {"lz4", 3}, {"zstd", 4}}
	// Repetitive lines so every codec really shrinks the batch (franz-go
	// sends a batch uncompressed when compression would not help).
	lines := []string{strings.Repeat("abc", 200), "second line", strings.Repeat("xyz", 300)}
	input := strings.Join(lines, "\n") + "\n"
	for _, c := range codecs {
		t.Run(c.name, func(t *testing.T) {
			topic := "codec-" + c.name
			mustRun(t, bs, "", "topics", "create", "--topic", topic)
			mustRun(t, bs, input, "produce", "--topic", topic, "--compression", c.name, "--linger-ms", "50")
			got := mustRun(t, bs, "", "consume", "--topic", topic, "--from-beginning", "--max-messages", "3")
			if got != input {
				t.Fatalf("consumed %q, want %q", got, input)
			}
			for _, code := range batchCompression(t, bs, topic, len(lines)) {
				if code != c.code {
					t.Fatalf("stored batch has compression type %d, want %d", code, c.code)
				}
			}
		})
	}
}

func TestKeysAndHeadersRoundTrip(t *testing.T) {
	bs := startBroker(t)
	mustRun(t, bs, "", "topics", "create", "--topic", "kv")
	mustRun(t, bs, "user1=hello\n=no key\nuser2=a=b\n", "produce", "--topic", "kv",
		"--key-separator", "=", "--header", "source:test", "--header", "trace:a:b")

	got := mustRun(t, bs, "", "consume", "--topic", "kv", "--from-beginning", "--max-messages", "3",
		"--format", `%t|%p|%o|%k|%v|%h\n`)
	want := "kv|0|0|user1|hello|source:test,trace:a:b\n" +
		"kv|0|1||no key|source:test,trace:a:b\n" +
		"kv|0|2|user2|a=b|source:test,trace:a:b\n"
	if got != want {
		t.Fatalf("--format output:\n%q\nwant\n%q", got, want)
	}

	got = mustRun(t, bs, "", "consume", "--topic", "kv", "--from-beginning", "--max-messages", "1",
		"--print-key", "--key-separator", " => ")
	if got != "user1 => hello\n" {
		t.Fatalf("--print-key output %q", got)
	}

	// %T is the record's timestamp in milliseconds: close to now.
	got = mustRun(t, bs, "", "consume", "--topic", "kv", "--from-beginning", "--max-messages", "1", "--format", `%T`)
	var ms int64
	if _, err := fmt.Sscan(got, &ms); err != nil || time.Since(time.UnixMilli(ms)).Abs() > time.Minute {
		t.Fatalf("%%T printed %q, want a recent millisecond timestamp", got)
	}
}

func TestProduceLineWithoutKeySeparatorFails(t *testing.T) {
	bs := startBroker(t)
	mustRun(t, bs, "", "topics", "create", "--topic", "kv")
	wantFailure(t, kafki(t, bs, "a\tb\nno separator here\n", "produce", "--topic", "kv", "--key-separator", `\t`),
		1, "line 2", "no key separator")
}

func TestPartitionAndOffset(t *testing.T) {
	bs := startBroker(t)
	mustRun(t, bs, "", "topics", "create", "--topic", "p", "--partitions", "3")
	out := mustRun(t, bs, "a\nb\nc\n", "produce", "--topic", "p", "--partition", "1", "--verbose")
	if out != "1@0\n1@1\n1@2\n" {
		t.Fatalf("produce --verbose printed %q, want partition@offset per record", out)
	}
	mustRun(t, bs, "z\n", "produce", "--topic", "p", "--partition", "2", "--acks", "1")

	if got := mustRun(t, bs, "", "consume", "--topic", "p", "--partition", "1", "--offset", "1", "--max-messages", "2"); got != "b\nc\n" {
		t.Errorf("--partition 1 --offset 1 = %q, want b and c", got)
	}
	if got := mustRun(t, bs, "", "consume", "--topic", "p", "--partition", "2", "--offset", "earliest", "--max-messages", "1"); got != "z\n" {
		t.Errorf("--partition 2 --offset earliest = %q, want z", got)
	}
	// All partitions from the beginning: each partition in offset order.
	got := mustRun(t, bs, "", "consume", "--topic", "p", "--from-beginning", "--max-messages", "4", "--format", `%p:%v\n`)
	var p1 []string
	for _, l := range strings.Split(strings.TrimSpace(got), "\n") {
		if v, ok := strings.CutPrefix(l, "1:"); ok {
			p1 = append(p1, v)
		}
	}
	if strings.Join(p1, ",") != "a,b,c" || !strings.Contains(got, "2:z\n") {
		t.Errorf("consume of all partitions = %q, want a,b,c in order and z", got)
	}

	wantFailure(t, kafki(t, bs, "x\n", "produce", "--topic", "p", "--partition", "7"), 1, "3 partitions", "7")
	wantFailure(t, kafki(t, bs, "", "consume", "--topic", "p", "--partition", "3"), 1, "3 partitions")
}

func TestConsumeTimeoutExitsWithoutRecords(t *testing.T) {
	bs := startBroker(t)
	mustRun(t, bs, "", "topics", "create", "--topic", "quiet")
	start := time.Now()
	r := kafki(t, bs, "", "consume", "--topic", "quiet", "--from-beginning", "--timeout-ms", "300")
	if r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Fatalf("idle consume: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 10*time.Second {
		t.Errorf("idle consume took %s, want about 300ms", d)
	}
}

// TestConsumeStopsOnInterrupt cancels the context (what Ctrl-C does) once
// the consumer printed its first record: it must exit 0 promptly.
func TestConsumeStopsOnInterrupt(t *testing.T) {
	bs := startBroker(t)
	mustRun(t, bs, "", "topics", "create", "--topic", "live")
	mustRun(t, bs, "one\n", "produce", "--topic", "live")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &notifyingWriter{onWrite: func(s string) {
		if strings.Contains(s, "one\n") {
			cancel()
		}
	}}
	var stderr strings.Builder
	done := make(chan int, 1)
	go func() {
		done <- cli.Run(ctx, []string{"consume", "--topic", "live", "--from-beginning"},
			cli.Env{Stdout: out, Stderr: &stderr, Getenv: envWith(bs)})
	}()
	select {
	case code := <-done:
		if code != 0 || out.String() != "one\n" {
			t.Fatalf("interrupted consume: exit %d, stdout %q, stderr %q", code, out.String(), stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("consumer did not stop after interrupt")
	}
}

func TestConsumerGroupCommitsOnExit(t *testing.T) {
	bs := startBroker(t)
	mustRun(t, bs, "", "topics", "create", "--topic", "jobs")
	mustRun(t, bs, "j1\nj2\nj3\n", "produce", "--topic", "jobs")
	r := kafki(t, bs, "", "consume", "--topic", "jobs", "--group", "workers", "--from-beginning",
		"--max-messages", "2", "--timeout", "3s", "--timeout-ms", "10000")
	if r.code != 0 || r.stdout != "j1\nj2\n" {
		t.Fatalf("first group member: exit %d, read %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// The next member resumes after what the first one printed.
	if got := mustRun(t, bs, "", "consume", "--topic", "jobs", "--group", "workers", "--from-beginning", "--max-messages", "1"); got != "j3\n" {
		t.Fatalf("second group member read %q, want j3 (committed offsets ignored?)", got)
	}
}

func TestLargeLines(t *testing.T) {
	bs := startBroker(t)
	big := strings.Repeat("x", 1<<20) // exactly 1 MiB
	mustRun(t, bs, "", "topics", "create", "--topic", "big", "--config", "max.message.bytes=2097152")
	mustRun(t, bs, big+"\nsmall\n", "produce", "--topic", "big")
	got := mustRun(t, bs, "", "consume", "--topic", "big", "--from-beginning", "--max-messages", "2")
	if got != big+"\nsmall\n" {
		t.Fatalf("1 MiB line did not round-trip (got %d bytes)", len(got))
	}

	// A topic with the default limit refuses it, and the producer says so.
	mustRun(t, bs, "", "topics", "create", "--topic", "small")
	wantFailure(t, kafki(t, bs, "ok\n"+big+"\n", "produce", "--topic", "small"), 1, "line 2", "MESSAGE_TOO_LARGE")
}
