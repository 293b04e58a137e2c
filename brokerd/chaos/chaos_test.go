package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/brokerd/internal/checker"
	"github.com/kafki/kafki/brokerd/internal/clusterproc"
	"github.com/kafki/kafki/internal/poll"
)

// The topic under test.
const (
	topic      = "chaos"
	partitions = 3
	replicas   = 3
	minInsync  = 2
)

// Cluster timing: short, so a round of faults takes seconds.
const (
	sessionLease = time.Second
	lagTimeMax   = time.Second
	fetchWaitMax = 100 * time.Millisecond
	pollInterval = 50 * time.Millisecond
)

// logTail bounds how much of each broker's output a failure prints.
const logTail = 16 << 10

// TestChaos runs KAFKI_CHAOS_ROUNDS rounds (default 1) of every fault
// over the security protocol KAFKI_CHAOS_SECURITY: PLAINTEXT (the
// default) or SASL_SSL (brokers replicating over SASL_SSL, the
// workload's clients on TLS and SCRAM-SHA-512).
func TestChaos(t *testing.T) {
	rounds := 1
	if s := os.Getenv("KAFKI_CHAOS_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("KAFKI_CHAOS_ROUNDS=%q: want a positive integer", s)
		}
		rounds = n
	}
	run := chaosRun{rounds: rounds}
	switch s := os.Getenv("KAFKI_CHAOS_SECURITY"); s {
	case "", "PLAINTEXT":
	case "SASL_SSL":
		run.saslSSL = true
	default:
		t.Fatalf("KAFKI_CHAOS_SECURITY=%q: want PLAINTEXT or SASL_SSL", s)
	}
	runChaos(t, run)
}

// TestChaosSASLSSL is the short run of the normal suite on a secured
// cluster: every broker's only listeners are SASL_SSL, the brokers
// replicate as the inter-broker user, the workload logs in as a SCRAM
// user. One round of two faults, a SIGKILLed leader and a SIGSTOPped
// one, with the checker's usual guarantees: no acknowledged write lost
// or retracted.
func TestChaosSASLSSL(t *testing.T) {
	runChaos(t, chaosRun{rounds: 1, saslSSL: true, short: true})
}

// chaosRun is what one chaos test runs.
type chaosRun struct {
	rounds int
	// saslSSL secures the cluster (clusterproc.Security).
	saslSSL bool
	// short limits each round to faults (a) and (b).
	short bool
}

func runChaos(t *testing.T, run chaosRun) {
	if brokerdErr != nil {
		t.Fatal(brokerdErr)
	}
	if !motoAvailable() {
		t.Skip("moto (python3 -m pip install 'moto[server]') not installed")
	}
	rounds := run.rounds
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute+time.Duration(rounds)*3*time.Minute)
	defer cancel()

	// Network partitions need namespaces (root and iproute2); without
	// them the other faults still run. The test certificates of a
	// secured cluster name 127.0.0.1 only: no namespaces then.
	netErr := clusterproc.NetNSAvailable()
	var sec *clusterproc.Security
	switch {
	case run.short:
		netErr = errors.New("a short run")
	case run.saslSSL:
		netErr = errors.New("SASL_SSL: the test certificates name 127.0.0.1 only")
	case os.Getenv("KAFKI_CHAOS_NETNS") == "0":
		netErr = errors.New("KAFKI_CHAOS_NETNS=0")
	}
	if run.saslSSL {
		sec = clusterproc.NewSecurity(t, t.TempDir(), replicas)
	}
	if netErr != nil && !run.short {
		t.Logf("network partitions (e) and (f) skipped: %v", netErr)
	}
	c, err := clusterproc.Start(ctx, clusterproc.Options{
		NetNS:        netErr == nil,
		Security:     sec,
		Brokers:      replicas,
		BrokerdPath:  brokerdBin,
		SessionLease: sessionLease,
		Env: []string{
			"KAFKI_REPLICA_LAG_TIME_MAX=" + lagTimeMax.String(),
			"KAFKI_REPLICA_FETCH_WAIT_MAX=" + fetchWaitMax.String(),
			"KAFKI_METADATA_POLL_INTERVAL=" + pollInterval.String(),
			"KAFKI_OFFSETS_TOPIC_NUM_PARTITIONS=3",
			"KAFKI_GROUP_INITIAL_REBALANCE_DELAY=0s",
		},
	})
	if err != nil {
		t.Fatalf("start cluster: %v", err)
	}
	defer func() {
		if t.Failed() {
			for _, p := range c.Brokers() {
				t.Logf("broker %d output (tail):\n%s", p.ID(), tail(p.Logs(), logTail))
			}
		}
		if err := c.Close(); err != nil {
			t.Errorf("close cluster: %v", err)
		}
	}()
	h, err := newHarness(t, c)
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()

	tg := targetOf(c)
	if err := createTopic(ctx, tg); err != nil {
		t.Fatal(err)
	}
	if err := h.waitHealthy(ctx); err != nil {
		t.Fatal(err)
	}

	chk := checker.New()
	wl, err := startWorkload(ctx, chk, tg)
	if err != nil {
		t.Fatal(err)
	}
	defer wl.close()
	n := &nemesis{h: h, wl: wl, lease: sessionLease, netFaults: netErr == nil, short: run.short}
	start := time.Now()
	if err := n.waitWrites(ctx, start); err != nil {
		t.Fatal(err)
	}
	// A fault that cannot be applied or healed ends the faults, not the
	// test: the history so far is still checked.
	for r := range rounds {
		if err := n.round(ctx, r); err != nil {
			t.Errorf("nemesis: %v", err)
			break
		}
	}
	wl.stopWriters()
	t.Logf("workload: %s of faults, %d failed sends, %d reader fetch errors, %d reader resets",
		time.Since(start).Round(time.Second), wl.writeErr.Load(), wl.readErrs.Load(), wl.resets.Load())
	reportFailovers(t, rounds, n.samples)

	hw, err := settle(ctx, h, chk, tg)
	if err != nil {
		t.Errorf("settle: %v", err)
	}
	wl.stopReaders()
	if hw != nil {
		if err := finalReadCluster(ctx, chk, tg, hw); err != nil {
			t.Errorf("final read through the cluster: %v", err)
		}
	}
	// Every broker stops cleanly, so its files hold what it served.
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i, p := range c.Brokers() {
		wg.Go(func() { errs[i] = p.Terminate(clusterproc.CloseGrace) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Errorf("stop brokers: %v", err)
	}
	if hw != nil {
		finalReadReplicas(t, chk, c, hw)
	}

	rep := chk.Check()
	t.Logf("checker: sent %d, acked %d, failed (definite) %d, indeterminate %d (%d of them seen), polled %d, final records %d",
		rep.Sent, rep.Acked, rep.FailedDefinite, rep.Indeterminate, rep.IndeterminateSeen, rep.Polled, rep.FinalRecords)
	if rep.Acked == 0 || rep.Polled == 0 {
		t.Errorf("the workload did nothing: %d acknowledged, %d polled", rep.Acked, rep.Polled)
	}
	if !rep.OK() {
		t.Errorf("checker found anomalies:\n%s", rep.String())
	}
}

// createTopic creates the topic, retrying while the cluster settles (a
// create that timed out may have succeeded: TOPIC_ALREADY_EXISTS is fine).
func createTopic(ctx context.Context, tg target) error {
	cl, err := kgo.NewClient(clientOpts(tg)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	cfg := map[string]*string{"min.insync.replicas": kadm.StringPtr(strconv.Itoa(minInsync))}
	return poll.WithinEvery(ctx, healTimeout, pollEvery, "create topic "+topic, func() error {
		res, err := adm.CreateTopic(ctx, partitions, replicas, cfg, topic)
		if err == nil {
			err = res.Err
		}
		if errors.Is(err, kerr.TopicAlreadyExists) {
			return nil
		}
		return err
	})
}

// settle runs after the writers stopped: it waits until the cluster is
// healthy, writes one sentinel per partition with acks=all (once
// acknowledged with a full ISR, every replica holds everything up to it),
// waits for health again, and returns each partition's high watermark.
func settle(ctx context.Context, h *harness, chk *checker.Checker, tg target) (map[int32]int64, error) {
	if err := h.waitHealthy(ctx); err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(producerOpts(tg)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	sentinel := map[int32]int64{}
	for p := range int32(partitions) {
		attempt := 0
		err := poll.WithinEvery(ctx, healTimeout, pollEvery, fmt.Sprintf("sentinel write to partition %d", p), func() error {
			v := fmt.Sprintf("sentinel-%d-%d", p, attempt)
			attempt++
			chk.Sent(topic, p, v)
			r, err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Value: []byte(v)}).First()
			if err != nil {
				chk.Failed(v, definiteFailure(err))
				return err
			}
			chk.Acked(topic, p, v, r.Offset)
			sentinel[p] = r.Offset
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if err := h.waitHealthy(ctx); err != nil {
		return nil, err
	}
	adm := kadm.NewClient(cl)
	hw := map[int32]int64{}
	err = poll.WithinEvery(ctx, healTimeout, pollEvery, "high watermarks past the sentinels", func() error {
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return err
		}
		for p := range int32(partitions) {
			o, ok := ends.Lookup(topic, p)
			switch {
			case !ok:
				return fmt.Errorf("no end offset for partition %d", p)
			case o.Err != nil:
				return fmt.Errorf("partition %d: %w", p, o.Err)
			case o.Offset <= sentinel[p]:
				return fmt.Errorf("partition %d: high watermark %d, sentinel at %d", p, o.Offset, sentinel[p])
			}
			hw[p] = o.Offset
		}
		return nil
	})
	return hw, err
}

// finalReadCluster reads every partition from offset 0 to its high
// watermark through the cluster, as one consumer.
func finalReadCluster(ctx context.Context, chk *checker.Checker, tg target, hw map[int32]int64) error {
	offsets := map[int32]kgo.Offset{}
	next := map[int32]int64{}
	for p := range int32(partitions) {
		offsets[p] = kgo.NewOffset().At(0)
	}
	cl, err := kgo.NewClient(append(clientOpts(tg),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchMaxWait(200*time.Millisecond),
	)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, healTimeout)
	defer cancel()
	done := func() bool {
		for p := range int32(partitions) {
			if next[p] < hw[p] {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("read up to %v, high watermarks %v: %w", next, hw, err)
		}
		var errs []error
		fs.EachError(func(t string, p int32, err error) { errs = append(errs, fmt.Errorf("%s/%d: %w", t, p, err)) })
		if len(errs) > 0 {
			// The cluster is healthy and idle: a reset or an error here
			// would make the final read incomplete or wrong.
			return errors.Join(errs...)
		}
		fs.EachPartition(func(ftp kgo.FetchTopicPartition) {
			var recs []checker.Observed
			for _, r := range ftp.Records {
				if r.Offset < hw[ftp.Partition] {
					recs = append(recs, checker.Observed{Offset: r.Offset, Value: string(r.Value)})
				}
				next[ftp.Partition] = max(next[ftp.Partition], r.Offset+1)
			}
			chk.FinalRead("cluster", topic, ftp.Partition, recs)
		})
	}
	return nil
}

// finalReadReplicas reads every broker's own copy of every partition from
// its files and feeds the records below the high watermark to the
// checker. Every replica was in the ISR when the sentinels were
// acknowledged and no write came after, so each must end exactly at the
// high watermark: more is an uncommitted tail that was never truncated,
// less is a committed record missing.
func finalReadReplicas(t *testing.T, chk *checker.Checker, c *clusterproc.Cluster, hw map[int32]int64) {
	scratch := t.TempDir()
	for _, b := range c.Brokers() {
		replica := "broker-" + strconv.Itoa(int(b.ID()))
		for p := range int32(partitions) {
			rl, err := readReplica(b.DataDir(), topic, p, scratch)
			if err != nil {
				t.Errorf("%s: %v", replica, err)
				continue
			}
			if rl.start != 0 || rl.end != hw[p] {
				t.Errorf("%s: %s/%d holds offsets [%d, %d), cluster high watermark %d", replica, topic, p, rl.start, rl.end, hw[p])
			}
			below := slices.DeleteFunc(rl.records, func(o checker.Observed) bool { return o.Offset >= hw[p] })
			chk.FinalRead(replica, topic, p, below)
		}
	}
}

// reportFailovers logs the failover time distribution and writes the
// samples to KAFKI_CHAOS_REPORT, if set.
func reportFailovers(t *testing.T, rounds int, samples []failover) {
	elect := make([]float64, 0, len(samples))
	firstAck := make([]float64, 0, len(samples))
	for _, s := range samples {
		elect = append(elect, s.ElectMs)
		firstAck = append(firstAck, s.FirstAck)
	}
	es, as := summarize(elect), summarize(firstAck)
	t.Logf("failover over %d leader failures: new leader in min %.0f / median %.0f / max %.0f ms; first acks=all write in min %.0f / median %.0f / max %.0f ms",
		len(samples), es.Min, es.Median, es.Max, as.Min, as.Median, as.Max)
	path := os.Getenv("KAFKI_CHAOS_REPORT")
	if path == "" {
		return
	}
	b, err := json.MarshalIndent(struct {
		Rounds       int        `json:"rounds"`
		SessionLease string     `json:"session_lease"`
		Elect        summary    `json:"elect_ms"`
		FirstAck     summary    `json:"first_ack_ms"`
		Samples      []failover `json:"samples"`
	}{rounds, sessionLease.String(), es, as, samples}, "", "  ")
	if err == nil {
		err = os.WriteFile(path, append(b, '\n'), 0o644)
	}
	if err != nil {
		t.Errorf("write failover report %s: %v", path, err)
	}
}

type summary struct {
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	Max    float64 `json:"max"`
}

func summarize(xs []float64) summary {
	if len(xs) == 0 {
		return summary{}
	}
	s := slices.Sorted(slices.Values(xs))
	return summary{Min: s[0], Median: s[len(s)/2], Max: s[len(s)-1]}
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "[...]\n" + s[len(s)-n:]
}
