package e2e

// kcat (librdkafka) against a replicated Kafki cluster: three brokerd
// processes sharing one DynamoDB table (moto_server), started by
// clusterproc, one of them SIGKILLed mid-test.

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kafki/kafki/loadtest/brokerproc"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/brokerd/internal/clusterproc"
)

// kcatFailoverTimeout bounds waiting for the cluster to fence a killed
// broker, or take a restarted one back, as kcat -L sees it: seconds with
// the 2 s session lease and replica lag time set here.
const kcatFailoverTimeout = 30 * time.Second

// kcatPollEvery paces kcat -L polls: there is no event to wait on in
// another process's view of the cluster.
const kcatPollEvery = 200 * time.Millisecond

// kcatClusterEnv shortens the cluster's timers so that a killed broker is
// fenced, and dropped from the ISR, within seconds.
var kcatClusterEnv = []string{
	"KAFKI_SESSION_LEASE=2s",
	"KAFKI_REPLICA_LAG_TIME_MAX=2s",
	"KAFKI_METADATA_POLL_INTERVAL=100ms",
}

// kcatProduceArgs make kcat an idempotent acks=all producer: it must
// neither lose nor duplicate a line across a leader change.
var kcatProduceArgs = []string{"-X", "acks=all", "-X", "enable.idempotence=true"}

// TestKcatClusterFailover produces keyed lines with kcat (acks=all,
// idempotent) to a 3-partition RF=3 topic, SIGKILLs the leader of
// partition 0, produces more, and consumes everything with kcat: every
// line exactly once, in production order within each partition. kcat -L
// lists three brokers, then two once the cluster fenced the dead one, then
// three again after it restarted.
func TestKcatClusterFailover(t *testing.T) {
	const topic, perBatch = "kc", 200
	requireKcat(t)
	c := startKcatCluster(t)
	all := strings.Join(c.Bootstrap(), ",")

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()...), kgo.RetryTimeout(20*time.Second))
	if err != nil {
		t.Fatalf("kgo client: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	// A broker's port accepts connections before it has registered in
	// the cluster; its first Metadata answer comes after. Create the
	// topic once every broker has answered listing all three.
	if err := brokerproc.WaitBrokers(ctx, c.Bootstrap(), 3, 20*time.Second, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	minISR := "2"
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, 3, 3, map[string]*string{"min.insync.replicas": &minISR}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s (3 partitions, RF 3): %v", topic, err)
	}

	md := waitKcatMetadata(t, all, topic, "3 brokers and every ISR {1,2,3}", func(md kcatMetadata) error {
		if ids := md.brokerIDs(); !slices.Equal(ids, []int32{1, 2, 3}) {
			return fmt.Errorf("brokers %v", ids)
		}
		return md.checkPartitions(3, func(p kcatPartition) error {
			if isr := p.isrIDs(); !slices.Equal(isr, []int32{1, 2, 3}) || p.Leader < 1 {
				return fmt.Errorf("partition %d: leader %d, isr %v", p.Partition, p.Leader, isr)
			}
			return nil
		})
	})
	for _, b := range md.Brokers {
		if want := c.Broker(b.ID).Addr(); b.Name != want {
			t.Errorf("kcat -L lists broker %d at %s, want %s", b.ID, b.Name, want)
		}
	}

	var keys, values []string
	produce := func(tag string) {
		t.Helper()
		var in strings.Builder
		for i := range perBatch {
			k, v := fmt.Sprintf("%s-%03d", tag, i), fmt.Sprintf("seq %d %s", len(keys), tag)
			fmt.Fprintf(&in, "%s:%s\n", k, v)
			keys, values = append(keys, k), append(values, v)
		}
		kcat(t, in.String(), append([]string{"-P", "-b", all, "-t", topic, "-K:"}, kcatProduceArgs...)...)
	}
	produce("before")

	dead := md.partition(0).Leader
	if err := c.Broker(dead).Kill(); err != nil {
		t.Fatalf("kill broker %d: %v", dead, err)
	}
	t.Logf("killed broker %d, leader of %s-0", dead, topic)
	// kcat keeps getting every address, the dead one included, as a
	// user's configuration would.
	produce("after")

	out := kcat(t, "", "-C", "-b", all, "-t", topic, "-o", "beginning", "-e", "-f", `%p %k=%s\n`)
	checkKcatConsumed(t, out, keys, values)

	waitKcatMetadata(t, all, topic, fmt.Sprintf("broker %d fenced: 2 brokers, no leader or ISR on it", dead), func(md kcatMetadata) error {
		if ids := md.brokerIDs(); len(ids) != 2 || slices.Contains(ids, dead) {
			return fmt.Errorf("brokers %v", ids)
		}
		return md.checkPartitions(3, func(p kcatPartition) error {
			if isr := p.isrIDs(); p.Leader == dead || p.Leader < 1 || slices.Contains(isr, dead) {
				return fmt.Errorf("partition %d: leader %d, isr %v", p.Partition, p.Leader, isr)
			}
			return nil
		})
	})

	if err := c.Broker(dead).Restart(t.Context()); err != nil {
		t.Fatalf("restart broker %d: %v", dead, err)
	}
	waitKcatMetadata(t, all, topic, fmt.Sprintf("broker %d back: 3 brokers, every ISR {1,2,3}", dead), func(md kcatMetadata) error {
		if ids := md.brokerIDs(); !slices.Equal(ids, []int32{1, 2, 3}) {
			return fmt.Errorf("brokers %v", ids)
		}
		return md.checkPartitions(3, func(p kcatPartition) error {
			if isr := p.isrIDs(); !slices.Equal(isr, []int32{1, 2, 3}) {
				return fmt.Errorf("partition %d: isr %v", p.Partition, isr)
			}
			return nil
		})
	})
	// The restarted broker serves what it copied back: a consumer
	// bootstrapped from it alone reads every line too.
	out = kcat(t, "", "-C", "-b", c.Broker(dead).Addr(), "-t", topic, "-o", "beginning", "-e", "-f", `%p %k=%s\n`)
	checkKcatConsumed(t, out, keys, values)
}

// startKcatCluster starts three brokers with kcatClusterEnv.
func startKcatCluster(t *testing.T) *clusterproc.Cluster { return startClusterEnv(t, kcatClusterEnv) }

// startClusterEnv starts three brokers with env as their environment and
// stops them at cleanup, showing the tail of each broker's output (and
// the goroutines of those still running) when the test failed.
func startClusterEnv(t *testing.T, env []string) *clusterproc.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), clusterproc.StartTimeout)
	defer cancel()
	c, err := clusterproc.Start(ctx, clusterproc.Options{Brokers: 3, BrokerdPath: brokerdBin, Env: env})
	if err != nil {
		t.Fatalf("start cluster: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range c.Brokers() {
				if p.Running() {
					if err := p.DumpGoroutines(); err != nil {
						t.Logf("broker %d: %v", p.ID(), err)
					}
				}
				t.Logf("broker %d output (last %d bytes):\n%s", p.ID(), maxLogShown, tail(p.Logs(), maxLogShown))
			}
		}
		if err := c.Close(); err != nil {
			t.Errorf("close cluster: %v", err)
		}
	})
	return c
}

// checkKcatConsumed checks kcat's "<partition> <key>=<value>" lines: every
// produced key exactly once with its value, and within each partition in
// the order produced (values carry their global sequence number; one kcat
// producer sends them in order, and idempotence keeps retries in order).
func checkKcatConsumed(t *testing.T, out string, keys, values []string) {
	t.Helper()
	want := map[string]string{}
	for i := range keys {
		want[keys[i]] = values[i]
	}
	seen := map[string]int{}
	lastSeq := map[string]int{} // partition -> last sequence number read
	var problems []string
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if l == "" {
			continue
		}
		part, kv, ok1 := strings.Cut(l, " ")
		k, v, ok2 := strings.Cut(kv, "=")
		if !ok1 || !ok2 {
			problems = append(problems, fmt.Sprintf("line %q is not '<partition> <key>=<value>'", l))
			continue
		}
		seen[k]++
		if w, ok := want[k]; !ok || w != v {
			problems = append(problems, fmt.Sprintf("line %q: want value %q", l, w))
			continue
		}
		seq, err := strconv.Atoi(strings.Fields(v)[1])
		if err != nil {
			problems = append(problems, fmt.Sprintf("line %q: no sequence number", l))
			continue
		}
		if last, ok := lastSeq[part]; ok && seq <= last {
			problems = append(problems, fmt.Sprintf("partition %s: seq %d after %d", part, seq, last))
		}
		lastSeq[part] = seq
	}
	for _, k := range keys {
		switch n := seen[k]; {
		case n == 0:
			problems = append(problems, "missing "+k)
		case n > 1:
			problems = append(problems, fmt.Sprintf("%s read %d times", k, n))
		}
	}
	if len(lastSeq) != 3 {
		problems = append(problems, fmt.Sprintf("lines came from partitions %v, want all 3", lastSeq))
	}
	if len(problems) > 0 {
		t.Fatalf("kcat consumed %d lines for %d produced; %d problems, first ones:\n%s",
			strings.Count(out, "\n"), len(keys), len(problems), strings.Join(problems[:min(20, len(problems))], "\n"))
	}
}

// kcatMetadata is the part of kcat -L -J's output checked here.
type kcatMetadata struct {
	Brokers []struct {
		ID   int32  `json:"id"`
		Name string `json:"name"`
	} `json:"brokers"`
	Topics []struct {
		Topic      string          `json:"topic"`
		Error      string          `json:"error"`
		Partitions []kcatPartition `json:"partitions"`
	} `json:"topics"`
}

type kcatPartition struct {
	Partition int32  `json:"partition"`
	Leader    int32  `json:"leader"`
	Error     string `json:"error"`
	ISRs      []struct {
		ID int32 `json:"id"`
	} `json:"isrs"`
}

// brokerIDs are the listed brokers' ids, sorted.
func (md kcatMetadata) brokerIDs() []int32 {
	var ids []int32
	for _, b := range md.Brokers {
		ids = append(ids, b.ID)
	}
	slices.Sort(ids)
	return ids
}

// partition returns the listed partition p of the one topic asked for,
// or one with leader -1 if it is not listed.
func (md kcatMetadata) partition(p int32) kcatPartition {
	if len(md.Topics) == 1 {
		for _, pt := range md.Topics[0].Partitions {
			if pt.Partition == p {
				return pt
			}
		}
	}
	return kcatPartition{Partition: p, Leader: -1}
}

// checkPartitions checks that the one topic asked for is listed without
// error with partitions 0..n-1, each passing check.
func (md kcatMetadata) checkPartitions(n int32, check func(kcatPartition) error) error {
	if len(md.Topics) != 1 || md.Topics[0].Error != "" {
		return fmt.Errorf("topics %+v", md.Topics)
	}
	if got := len(md.Topics[0].Partitions); got != int(n) {
		return fmt.Errorf("%d partitions, want %d", got, n)
	}
	for p := range n {
		pt := md.partition(p)
		if pt.Error != "" {
			return fmt.Errorf("partition %d: %s", p, pt.Error)
		}
		if err := check(pt); err != nil {
			return err
		}
	}
	return nil
}

// isrIDs are the partition's in-sync replicas, sorted.
func (p kcatPartition) isrIDs() []int32 {
	var ids []int32
	for _, r := range p.ISRs {
		ids = append(ids, r.ID)
	}
	slices.Sort(ids)
	return ids
}

// waitKcatMetadata runs kcat -L -J for topic until cond accepts what it
// lists, and returns that listing.
func waitKcatMetadata(t *testing.T, bootstrap, topic, what string, cond func(kcatMetadata) error) kcatMetadata {
	t.Helper()
	start := time.Now()
	for {
		out := kcat(t, "", "-L", "-b", bootstrap, "-t", topic, "-J")
		var md kcatMetadata
		err := json.Unmarshal([]byte(out), &md)
		if err == nil {
			if err = cond(md); err == nil {
				t.Logf("kcat -L shows %s after %v", what, time.Since(start).Round(time.Millisecond))
				return md
			}
		} else {
			err = fmt.Errorf("kcat -L -J output is not JSON: %w\n%s", err, out)
		}
		if time.Since(start) > kcatFailoverTimeout {
			t.Fatalf("kcat -L never showed %s within %v: %v", what, kcatFailoverTimeout, err)
		}
		// Each poll is a kcat process: pace them instead of spinning.
		time.Sleep(kcatPollEvery)
	}
}
