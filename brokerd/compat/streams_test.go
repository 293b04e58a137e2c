package compat

// Kafka Streams with processing.guarantee=exactly_once_v2 (issue 17): the
// word count of java/io/kafki/compat/WordCount.java, SIGKILLed mid-stream
// and started again.

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// wordCountInput is n deterministic lines of one to eight words of a
// small vocabulary, and the count of each word.
func wordCountInput(n int) ([]string, map[string]int64) {
	vocab := strings.Fields("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike " +
		"november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu")
	rng := rand.New(rand.NewSource(17))
	lines := make([]string, n)
	counts := map[string]int64{}
	for i := range lines {
		words := make([]string, 1+rng.Intn(8))
		for j := range words {
			// Skewed: a few words are hot, as in text.
			words[j] = vocab[int(float64(len(vocab))*rng.Float64()*rng.Float64())]
			counts[words[j]]++
		}
		lines[i] = strings.Join(words, " ")
	}
	return lines, counts
}

// countsReader reads the word count's output topic with read_committed,
// keeping the last count of each word.
type countsReader struct {
	cl *kgo.Client
	mu sync.Mutex
	// last is each word's newest committed count; records counts them.
	last    map[string]int64
	records int
	bad     []string
}

func newCountsReader(t *testing.T, b *broker, topic string) *countsReader {
	r := &countsReader{last: map[string]int64{}}
	r.cl = kgoClient(t, kgo.SeedBrokers(b.Addr()), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	return r
}

// poll reads what is there now (at most wait).
func (r *countsReader) poll(wait time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	fs := r.cl.PollFetches(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	fs.EachRecord(func(rec *kgo.Record) {
		r.records++
		if len(rec.Value) != 8 {
			r.bad = append(r.bad, fmt.Sprintf("%s=%x at %d/%d", rec.Key, rec.Value, rec.Partition, rec.Offset))
			return
		}
		r.last[string(rec.Key)] = int64(binary.BigEndian.Uint64(rec.Value))
	})
}

// diff describes how the counts read differ from want ("" when equal),
// and whether some count is above want: counts only grow, so one read
// above its word's final count is double counting, never to heal.
func (r *countsReader) diff(want map[string]int64) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var d []string
	over := false
	for w, n := range want {
		if got := r.last[w]; got != n {
			d = append(d, fmt.Sprintf("%s %d (want %d)", w, got, n))
			over = over || got > n
		}
	}
	for w, got := range r.last {
		if _, ok := want[w]; !ok {
			d = append(d, fmt.Sprintf("%s %d (want none)", w, got))
			over = true
		}
	}
	if len(r.bad) > 0 {
		d = append(d, fmt.Sprintf("values not 8-byte longs: %v", r.bad))
		over = true
	}
	sort.Strings(d)
	if len(d) == 0 {
		return "", false
	}
	return fmt.Sprintf("%d records read; counts off: %s", r.records, strings.Join(d, ", ")), over
}

// TestStreamsWordCountExactlyOnce runs Kafka Streams 4.3's word count
// (flatMapValues, groupBy: a repartition topic, count: a persistent state
// store with a compacted changelog topic) with
// processing.guarantee=exactly_once_v2 against brokerd. Its input is
// produced at a steady pace while it runs; once it has committed part of
// it, the Streams JVM is SIGKILLed (no shutdown hook, its open transaction
// left behind) and started again on the same state directory (so under the
// same transactional id, which fences and aborts the dead one's
// transaction; the state store is restored from its changelog, as Streams
// wipes EOS state after an unclean stop).
//
// The last count of each word in the output topic, read with
// read_committed, must then equal the count computed from the input: a
// transaction the kill left open and replayed input counted twice would
// show as counts above it (failing at once), a lost commit as counts
// below it.
func TestStreamsWordCountExactlyOnce(t *testing.T) {
	k := kafkaTools(t).programs(t)
	b := startBroker(t)
	cl := kgoClient(t, kgo.SeedBrokers(b.Addr()))
	createTopic(t, cl, "wc-in", 2)
	createTopic(t, cl, "wc-out", 2)
	const app, lines, batch = "wc", 6000, 100
	input, want := wordCountInput(lines)

	state := t.TempDir()
	start := func(name string) *jvm {
		return k.startJVM(t, name, wordCountMain, b.Bootstrap(), app, state, "wc-in", "wc-out",
			"num.stream.threads=1",
			// The dead instance's member leaves the group when its
			// session times out: short, so the restart is quick.
			"session.timeout.ms=6000", "heartbeat.interval.ms=1000",
			// No record cache, and a transaction a second long: every
			// count goes out as it changes, so a kill leaves up to a
			// second of output (and of the repartition topic) in an
			// open transaction, which read_committed must never show.
			// (With processing.guarantee=at_least_once the same run
			// counts the replayed input twice, and the test fails.)
			"statestore.cache.max.bytes=0", "commit.interval.ms=1000")
	}
	streams := start("streams-1")
	running := func(j *jvm) func() bool {
		return func() bool {
			if j.proc.Done() {
				t.Fatalf("%s exited: %v", j.name, j.proc.Err())
			}
			return strings.Contains(j.log(), "state RUNNING")
		}
	}
	waitFor(t, connectTimeout, func() string { return "streams-1 not RUNNING" }, running(streams))

	// The input, at a steady pace, for as long as the test needs it.
	pcl := kgoClient(t, kgo.SeedBrokers(b.Addr()))
	produced := make(chan error, 1)
	var sent sync.Mutex
	nsent := 0
	go func() {
		for i := 0; i < lines; i += batch {
			recs := make([]*kgo.Record, 0, batch)
			for _, l := range input[i:min(i+batch, lines)] {
				recs = append(recs, &kgo.Record{Topic: "wc-in", Value: []byte(l)})
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := pcl.ProduceSync(ctx, recs...).FirstErr()
			cancel()
			if err != nil {
				produced <- err
				return
			}
			sent.Lock()
			nsent += len(recs)
			sent.Unlock()
			time.Sleep(50 * time.Millisecond) // pacing the input, not waiting for a condition
		}
		produced <- nil
	}()

	adm := kadm.NewClient(cl)
	committed := func() int64 {
		offs, err := adm.FetchOffsets(context.Background(), app)
		if err != nil {
			return -1
		}
		var n int64
		offs.Each(func(o kadm.OffsetResponse) {
			if o.Topic == "wc-in" && o.Err == nil {
				n += o.At
			}
		})
		return n
	}
	// offsets sums a topic's end offsets: high watermarks, or with
	// committed the last stable offsets (what read_committed reads to).
	offsets := func(topic string, committed bool) int64 {
		list := adm.ListEndOffsets
		if committed {
			list = adm.ListCommittedOffsets
		}
		offs, err := list(context.Background(), topic)
		if err != nil {
			return -1
		}
		var n int64
		offs.Each(func(o kadm.ListedOffset) { n += o.Offset })
		return n
	}
	out := newCountsReader(t, b, "wc-out")
	// Mid-stream: a quarter of the input committed by Streams, the
	// producer still going, and 100 or more counts written to wc-out since
	// Streams last committed (in its open transaction), so that the kill
	// leaves output of input whose offsets were not committed.
	var inAt, outAt, inNow, outNow int64 = -1, -1, -1, -1
	waitFor(t, connectTimeout, func() string {
		return fmt.Sprintf("streams-1: %d input records committed, %d counts written since", inNow, outNow-outAt)
	}, func() bool {
		if streams.proc.Done() {
			t.Fatalf("streams-1 exited: %v", streams.proc.Err())
		}
		inNow, outNow = committed(), offsets("wc-out", false)
		if inNow != inAt {
			inAt, outAt = inNow, outNow
			return false
		}
		return inNow >= lines/4 && outNow-outAt >= 100
	})
	streams.kill(t)
	sent.Lock()
	atKill := nsent
	sent.Unlock()
	t.Logf("streams-1 SIGKILLed: %d input records committed, %d of %d produced; wc-out high watermarks %d, last stable offsets %d",
		committed(), atKill, lines, offsets("wc-out", false), offsets("wc-out", true))
	if atKill == lines {
		t.Fatalf("all input produced before the kill: not mid-stream")
	}
	out.poll(time.Second)
	if d, over := out.diff(want); over {
		t.Fatalf("after the kill: %s", d)
	}

	streams = start("streams-2")
	waitFor(t, 2*connectTimeout, func() string {
		d, _ := out.diff(want)
		return fmt.Sprintf("streams-2 committed %d of %d input records; %s", committed(), lines, d)
	}, func() bool {
		if streams.proc.Done() {
			t.Fatalf("streams-2 exited: %v", streams.proc.Err())
		}
		out.poll(200 * time.Millisecond)
		d, over := out.diff(want)
		if over {
			t.Fatalf("double counting: %s", d)
		}
		return d == "" && committed() == lines
	})
	if err := <-produced; err != nil {
		t.Fatalf("produce wc-in: %v", err)
	}

	// The topology's internal topics: the repartition topic of groupBy and
	// the store's changelog, compacted.
	cfgs, err := adm.DescribeTopicConfigs(ctxT(t), app+"-by-word-repartition", app+"-counts-changelog")
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range cfgs {
		if rc.Err != nil {
			t.Errorf("topic %s: %v", rc.Name, rc.Err)
			continue
		}
		if strings.HasSuffix(rc.Name, "-changelog") {
			policy := ""
			for _, c := range rc.Configs {
				if c.Key == "cleanup.policy" {
					policy = c.MaybeValue()
				}
			}
			if policy != "compact" {
				t.Errorf("changelog %s cleanup.policy %q, want compact", rc.Name, policy)
			}
		}
	}
	// What the restart did, from its log (INFO lines, not asserted: the
	// counts are the test): Streams wipes the store of each task that has
	// no checkpoint under EOS (a TaskCorruptedException, logged at ERROR)
	// and restores it from the changelog with read_committed.
	for _, l := range strings.Split(streams.log(), "\n") {
		if strings.Contains(l, "Finished restoring changelog") {
			t.Logf("streams-2: %s", l)
		}
	}
}
