package e2e

// The long suite's failure cases (make localstack-test) and the
// throughput benchmark (KAFKI_LOCALSTACK_BENCH).

import (
	"bufio"
	"context"
	crand "crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/lambdas/triggers"
)

// ack is one record the cluster acknowledged.
type ack struct {
	partition int32
	offset    int64
	seq       int
	at        time.Time
}

// pacedProducer produces sequence-numbered records with acks=all and
// idempotence, one every interval, and keeps every acknowledgement.
type pacedProducer struct {
	mu     sync.Mutex
	acks   []ack
	errs   map[string]int
	cancel context.CancelFunc
	done   chan struct{}
}

func (s *suite) startProducer(t *testing.T, topic string, interval time.Duration) *pacedProducer {
	t.Helper()
	// Generous timeouts: records produced while the emulator is down wait
	// in the client, and go out once leaders are back.
	cl := s.client(t, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordDeliveryTimeout(3*time.Minute),
		kgo.RetryTimeout(3*time.Minute), kgo.ProducerLinger(5*time.Millisecond), kgo.DefaultProduceTopic(topic))
	ctx, cancel := context.WithCancel(t.Context())
	p := &pacedProducer{errs: map[string]int{}, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		var wg sync.WaitGroup
		for seq := 0; ; seq++ {
			select {
			case <-ctx.Done():
				wg.Wait()
				return
			case <-tick.C:
			}
			wg.Add(1)
			cl.Produce(context.WithoutCancel(ctx), &kgo.Record{Key: []byte(fmt.Sprintf("load-%06d", seq)), Value: []byte(value(seq))}, func(r *kgo.Record, err error) {
				defer wg.Done()
				p.mu.Lock()
				defer p.mu.Unlock()
				if err != nil {
					p.errs[err.Error()]++
					return
				}
				p.acks = append(p.acks, ack{partition: r.Partition, offset: r.Offset, seq: seq, at: time.Now()})
			})
		}
	}()
	return p
}

func (p *pacedProducer) acked() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.acks)
}

// ackedBetween counts acknowledgements received in [from, to).
func (p *pacedProducer) ackedBetween(from, to time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, a := range p.acks {
		if !a.at.Before(from) && a.at.Before(to) {
			n++
		}
	}
	return n
}

// stop ends production and waits for every outstanding record's result.
func (p *pacedProducer) stop() []ack {
	p.cancel()
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.acks)
}

// checkAcked reads topic back with kcat and checks that every
// acknowledged record is at its offset with its value.
func (s *suite) checkAcked(t *testing.T, topic string, acks []ack) {
	t.Helper()
	out := kcat(t, "", "-C", "-b", s.c.bootstrap(), "-t", topic, "-o", "beginning", "-e", "-f", "%p %o %k=%s\n")
	at := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		p, rest, _ := strings.Cut(l, " ")
		o, kv, _ := strings.Cut(rest, " ")
		_, v, _ := strings.Cut(kv, "=")
		at[p+"/"+o] = v
	}
	var problems []string
	for _, a := range acks {
		pos := fmt.Sprintf("%d/%d", a.partition, a.offset)
		if v, ok := at[pos]; !ok {
			problems = append(problems, fmt.Sprintf("seq %d acknowledged at %s: missing", a.seq, pos))
		} else if v != value(a.seq) {
			problems = append(problems, fmt.Sprintf("seq %d acknowledged at %s: holds %.20q", a.seq, pos, v))
		}
	}
	if len(problems) > 0 {
		t.Fatalf("%d of %d acknowledged records lost or moved:\n  %s", len(problems), len(acks), strings.Join(problems[:min(20, len(problems))], "\n  "))
	}
	t.Logf("all %d acknowledged records read back at their offsets (%d records in the log)", len(acks), len(at))
}

// metric sums a counter over the brokers' /metrics (every label set).
func (s *suite) metric(name string) float64 {
	sum := 0.0
	for _, br := range s.c.brokers {
		if br.proc.Done() {
			continue
		}
		resp, err := http.Get("http://" + br.admin + "/metrics")
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
				continue
			}
			f := strings.Fields(line)
			if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
				sum += v
			}
		}
		resp.Body.Close()
	}
	return sum
}

// emulatorStoppedUnderLoad: while a producer runs, the emulator goes
// away (MiniStack exits with its state saved; moto is paused). Once a
// lease can no longer have been renewed, no broker acknowledges anything;
// when the emulator is back, acknowledgements resume, and every record
// acknowledged before, during or after is in the log at its offset.
func (s *suite) emulatorStoppedUnderLoad(t *testing.T) {
	const topic = "load"
	s.createTopic(t, topic, 3, nil)
	p := s.startProducer(t, topic, 5*time.Millisecond)
	must(t, 60*time.Second, "300 records acknowledged before the stop", func() error {
		if n := p.acked(); n < 300 {
			return fmt.Errorf("%d acknowledged", n)
		}
		return nil
	})
	failures := s.metric("kafki_lease_renewal_failures_total")
	stoppedAt := time.Now()
	if err := s.e.stop(); err != nil {
		t.Fatal(err)
	}
	resumed := false
	defer func() {
		if !resumed { // a failed check must not leave the later subtests without an emulator
			if err := s.e.resume(context.WithoutCancel(t.Context())); err != nil {
				t.Errorf("resume %s: %v", s.kind, err)
			}
		}
	}()
	before := p.acked()
	t.Logf("%s stopped with %d records acknowledged", s.kind, before)
	// A broker stops acting once its lease could have lapsed (lease 4 s);
	// an acknowledgement after that would be one a new leader may not
	// have. One more second covers the reply in flight.
	quiet := stoppedAt.Add(5 * time.Second)
	// The emulator stays away this long: the fault's duration, not a
	// wait for a condition. Long enough to outlast every lease twice.
	if d := time.Until(quiet.Add(8 * time.Second)); d > 0 {
		time.Sleep(d)
	}
	resumedAt := time.Now()
	t.Logf("acknowledgements while the emulator was away: %d within the lease after the stop, %d after it",
		p.ackedBetween(stoppedAt, quiet), p.ackedBetween(quiet, resumedAt))
	if n := p.ackedBetween(quiet, resumedAt); n > 0 {
		t.Errorf("%d records acknowledged between %v and %v after the emulator stopped: brokers acknowledged without a lease", n,
			quiet.Sub(stoppedAt), resumedAt.Sub(stoppedAt))
	}
	resumed = true
	if err := s.e.resume(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s back after %v", s.kind, time.Since(stoppedAt).Round(time.Millisecond))
	must(t, 3*time.Minute, "300 more records acknowledged after the restart", func() error {
		if n := p.ackedBetween(resumedAt, time.Now().Add(time.Hour)); n < 300 {
			return fmt.Errorf("%d acknowledged since", n)
		}
		return nil
	})
	s.figures[string(s.kind)+" acks resumed after the emulator came back"] = firstAckAfter(p, resumedAt).Sub(resumedAt).Round(time.Millisecond).String()
	acks := p.stop()
	// A paused moto holds the renewals until it runs again, so they are
	// counted late or not at all; MiniStack refuses them at once.
	t.Logf("producer errors: %v; lease renewal failures counted by the brokers: %v", p.errs, s.metric("kafki_lease_renewal_failures_total")-failures)
	s.c.waitBrokers(t, 3)
	s.checkAcked(t, topic, acks)
}

func firstAckAfter(p *pacedProducer, from time.Time) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	first := time.Time{}
	for _, a := range p.acks {
		if a.at.After(from) && (first.IsZero() || a.at.Before(first)) {
			first = a.at
		}
	}
	return first
}

// functionFails: the recorder function deployed by the stack, told to
// fail on "poison" records, behind a trigger with two retries and a
// dead-letter topic: each batch holding a poison record is tried 1 + 2
// times (three items marked failed in the recorder table) and then its
// records are in the dead-letter topic with the function's error; every
// other record is recorded once, as a success.
func (s *suite) functionFails(t *testing.T) {
	if s.kind == moto {
		t.Skip("skipped on moto: no Lambda executor")
	}
	const topic, dlq, batch, n = "e2e-poison", "e2e-poison-dlq", 5, 50
	poison := map[int]bool{12: true, 37: true}
	fn := s.d.outputs["FunctionRecorder"]
	lc := s.e.lambda()
	if _, err := lc.UpdateFunctionConfiguration(t.Context(), &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String(fn),
		Environment: &ltypes.Environment{Variables: map[string]string{
			"RECORDER_TABLE": s.d.outputs["RecorderTable"], "RECORDER_NAME": topic, "RECORDER_POISON": "poison",
		}},
	}); err != nil {
		t.Fatalf("configure %s: %v", fn, err)
	}
	s.createTopic(t, topic, 1, nil)
	s.createTopic(t, dlq, 1, nil)
	var in strings.Builder
	for i := range n {
		v := fmt.Sprintf("rec-%03d", i)
		if poison[i] {
			v += "-poison"
		}
		fmt.Fprintf(&in, "k%03d:%s\n", i, v)
	}
	kcat(t, in.String(), append([]string{"-P", "-b", s.c.bootstrap(), "-t", topic, "-K:", "-p", "0"}, kcatProduceArgs...)...)
	// Declared after the records are in: batches are then offsets
	// [0,5), [5,10), ... whatever the batching window does.
	s.startRunner(t)
	def, _ := json.Marshal(map[string]any{"triggers": []map[string]any{{
		"id": "recorder-poison", "function": fn, "topics": []string{topic}, "starting_position": "TRIM_HORIZON",
		"batch_size": batch, "max_retry_attempts": 2, "on_failure": "kafka://" + dlq, "enabled": true,
	}}})
	if _, err := triggers.Declare(t.Context(), &triggers.Client{Base: "http://" + s.c.broker(2).admin}, def); err != nil {
		t.Fatal(err)
	}
	wantDLQ := map[int]bool{}
	for i := range n {
		if anyIn(poison, i-i%batch, i-i%batch+batch) {
			wantDLQ[i] = true
		}
	}
	// The dead letters, read with kcat: key, value and the error header.
	var got map[int]string
	must(t, 2*time.Minute, fmt.Sprintf("%d records in %s", len(wantDLQ), dlq), func() error {
		out := kcatQuiet(t, "-C", "-b", s.c.bootstrap(), "-t", dlq, "-o", "beginning", "-e", "-f", "%k %h\n")
		got = map[int]string{}
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			k, h, _ := strings.Cut(l, " ")
			if i, err := strconv.Atoi(strings.TrimPrefix(k, "k")); err == nil {
				got[i] = h
			}
		}
		if len(got) < len(wantDLQ) {
			return fmt.Errorf("%d dead letters", len(got))
		}
		return nil
	})
	for i := range wantDLQ {
		if h, ok := got[i]; !ok || !strings.Contains(h, "poison record") {
			t.Errorf("offset %d: dead letter %q, want one carrying the function's error", i, h)
		}
	}
	for i := range got {
		if !wantDLQ[i] {
			t.Errorf("offset %d dead-lettered, but its batch held no poison record", i)
		}
	}
	// The recorder's items: every other record once as a success, each
	// poisoned batch three times as a failure.
	must(t, time.Minute, "every good record recorded", func() error {
		items, err := s.scan(t.Context(), s.d.outputs["RecorderTable"])
		if err != nil {
			return err
		}
		ok, failed := map[int]int{}, map[int]int{}
		for _, it := range items {
			if pk, _ := it["pk"].(*dtypes.AttributeValueMemberS); pk == nil || pk.Value != topic {
				continue
			}
			offs, _ := it["offsets"].(*dtypes.AttributeValueMemberS)
			f, _ := it["failed"].(*dtypes.AttributeValueMemberBOOL)
			for _, o := range strings.Split(offs.Value, ",") {
				i, _ := strconv.Atoi(o)
				if f != nil && f.Value {
					failed[i]++
				} else {
					ok[i]++
				}
			}
		}
		for i := range n {
			switch {
			case wantDLQ[i] && (failed[i] != 3 || ok[i] != 0):
				return fmt.Errorf("offset %d (poisoned batch): %d failed and %d good invocations, want 3 and 0", i, failed[i], ok[i])
			case !wantDLQ[i] && ok[i] != 1:
				return fmt.Errorf("offset %d: recorded %d times as a success, want once", i, ok[i])
			}
		}
		return nil
	})
}

func anyIn(set map[int]bool, from, to int) bool {
	for i := from; i < to; i++ {
		if set[i] {
			return true
		}
	}
	return false
}

// kcatQuiet is kcat for a poll: a failure is the poll's to report.
func kcatQuiet(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, _ := execOutput(ctx, "kcat", args...)
	return out
}

// s3Faults: the brokers' S3 requests go through the fault proxy, which
// fails 30% of them with S3's 503 SlowDown and 500 InternalError. Produce
// is unaffected (acknowledgements do not wait for S3); sealed segments
// still reach the bucket (uploads retried) and the local log moves past
// them; kcat reads every record from offset 0 with the faults still on.
func (s *suite) s3Faults(t *testing.T) {
	const topic = "tier-faults"
	s.proxy.set(0.3)
	defer s.proxy.set(0)
	before := s.proxy.injected.Load()
	s.createTopic(t, topic, 1, map[string]string{
		"remote.storage.enable": "true",
		"segment.bytes":         strconv.Itoa(tierSegmentBytes),
		"local.retention.bytes": strconv.Itoa(tierLocalRetention),
	})
	produced, seq := map[string]int{}, 0
	kcat(t, lines("f", tierRecords, &seq, produced), append([]string{"-P", "-b", s.c.bootstrap(), "-t", topic, "-K:", "-p", "0", "-X", "batch.size=2048"}, kcatProduceArgs...)...)
	st := s.waitTiered(t, topic, 0, 3*time.Minute)
	out := kcat(t, "", "-C", "-b", s.c.bootstrap(), "-t", topic, "-o", "beginning", "-e", "-f", `%p %k=%s\n`)
	checkConsumed(t, out, produced)
	injected := s.proxy.injected.Load() - before
	if injected == 0 {
		t.Fatal("the proxy injected no S3 error: the test proved nothing")
	}
	t.Logf("S3 faults: %d errors injected; %d segments uploaded, local log from %d, all %d records read from offset 0", injected, st.objects, st.localStart, tierRecords)
}

// throughput measures produce and consume through the three brokers on
// this emulator's DynamoDB and S3: 10 s of acks=all produce of 1 KiB
// records to 6 partitions, then a read of everything back, with the
// brokers' DynamoDB requests counted over the same window. What it shows:
// the metadata table is not on the data path, so both emulators give
// about the same figures.
func (s *suite) throughput(t *testing.T) {
	const topic, size, window = "bench", 1024, 10 * time.Second
	s.createTopic(t, topic, 6, nil)
	cl := s.client(t, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(5*time.Millisecond),
		kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedRecords(20000), kgo.DefaultProduceTopic(topic),
		// franz-go compresses with snappy by default, and a repeated
		// byte compresses about fifty-fold: measure the bytes as sent.
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	payload := make([]byte, size)
	_, _ = crand.Read(payload) // incompressible
	ddb0 := s.metric("kafki_dynamodb_requests_total")
	var (
		mu    sync.Mutex
		acked int
		fails int
		wg    sync.WaitGroup
	)
	start := time.Now()
	for time.Since(start) < window {
		wg.Add(1)
		cl.Produce(t.Context(), &kgo.Record{Value: payload}, func(_ *kgo.Record, err error) {
			defer wg.Done()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				fails++
			} else {
				acked++
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	ddb := s.metric("kafki_dynamodb_requests_total") - ddb0
	if fails > 0 {
		t.Fatalf("%d produce failures", fails)
	}
	consumer := s.client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(50<<20))
	read := 0
	cstart := time.Now()
	for read < acked {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		f := consumer.PollFetches(ctx)
		cancel()
		if err := f.Err0(); err != nil {
			t.Fatalf("consume after %d of %d: %v", read, acked, err)
		}
		read += f.NumRecords()
	}
	celapsed := time.Since(cstart)
	mib := func(n int, d time.Duration) float64 { return float64(n*size) / (1 << 20) / d.Seconds() }
	prod := fmt.Sprintf("%.0f records/s, %.1f MiB/s (acks=all, RF 3, 1 KiB, 6 partitions, %d records in %v)", float64(acked)/elapsed.Seconds(), mib(acked, elapsed), acked, elapsed.Round(time.Millisecond))
	cons := fmt.Sprintf("%.0f records/s, %.1f MiB/s", float64(read)/celapsed.Seconds(), mib(read, celapsed))
	ctl := fmt.Sprintf("%.1f requests/s from 3 brokers (%.0f in the produce window)", ddb/elapsed.Seconds(), ddb)
	s.figures[string(s.kind)+" produce"], s.figures[string(s.kind)+" consume"], s.figures[string(s.kind)+" DynamoDB during produce"] = prod, cons, ctl
	t.Logf("throughput on %s: produce %s; consume %s; DynamoDB %s", s.kind, prod, cons, ctl)
}

func execOutput(ctx context.Context, name string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, name, args...).Output()
	return string(out), err
}
