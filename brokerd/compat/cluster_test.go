package compat

// Kafka's own tools against a replicated Kafki cluster: three brokerd
// processes sharing one DynamoDB table (moto_server), started by
// clusterproc. The tools are given every broker's address, as a user
// would, and must keep working when a broker is SIGKILLed.

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kafki/kafki/brokerd/internal/clusterproc"
)

const (
	clusterBrokers = 3
	// failoverTimeout bounds waiting for the cluster to notice a dead or
	// returning broker (a 2 s session lease and replica lag time here)
	// as the tools see it; each poll is a JVM start of a second or two.
	failoverTimeout = 45 * time.Second
	// brokerLogTail is how many lines of each broker's output a failure
	// shows.
	brokerLogTail = 60
)

// clusterEnv shortens the cluster's timers so that a killed broker is
// fenced, and dropped from the ISR, within seconds.
var clusterEnv = []string{
	"KAFKI_SESSION_LEASE=2s",
	"KAFKI_REPLICA_LAG_TIME_MAX=2s",
	"KAFKI_METADATA_POLL_INTERVAL=100ms",
	"KAFKI_OFFSETS_TOPIC_NUM_PARTITIONS=3",
	"KAFKI_GROUP_INITIAL_REBALANCE_DELAY=0s",
}

// startCluster starts three brokers and stops them at cleanup, showing the
// tail of each broker's output when the test failed.
func startCluster(t *testing.T) *clusterproc.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), clusterproc.StartTimeout)
	defer cancel()
	c, err := clusterproc.Start(ctx, clusterproc.Options{Brokers: clusterBrokers, BrokerdPath: brokerdBin, Env: clusterEnv})
	if err != nil {
		t.Fatalf("start cluster: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range c.Brokers() {
				t.Logf("broker %d output, last lines:\n%s", p.ID(), tail(p.Logs(), brokerLogTail))
			}
		}
		if err := c.Close(); err != nil {
			t.Errorf("close cluster: %v", err)
		}
	})
	return c
}

// bootstrapExcept is the --bootstrap-server list of every broker but the
// ones named.
func bootstrapExcept(c *clusterproc.Cluster, dead ...int32) string {
	var out []string
	for _, p := range c.Brokers() {
		if !slices.Contains(dead, p.ID()) {
			out = append(out, p.Addr())
		}
	}
	return strings.Join(out, ",")
}

// TestClusterFailover walks a user through a broker failure with Kafka's
// tools: create an RF=3 topic with min.insync.replicas=2, produce with
// acks=all and consume, SIGKILL the leader of partition 0 and do both
// again (every line, old and new, must come back), watch kafka-topics
// report a new leader and a shrunk ISR, restart the broker and watch the
// ISR grow back; then commit a group's offsets, kill the group's
// coordinator, and read the committed offsets back from the survivors.
func TestClusterFailover(t *testing.T) {
	const topic, group, perBatch = "t", "g", 30
	k := kafkaTools(t)
	c := startCluster(t)
	all := bootstrapExcept(c)

	k.mustRun(t, "", topicsTool, "--bootstrap-server", all, "--create", "--topic", topic,
		"--partitions", "3", "--replication-factor", "3", "--config", "min.insync.replicas=2")
	parts := describeTopic(t, k, all, topic)
	leaders := map[int32]bool{}
	for p := range int32(3) {
		pt, ok := parts[p]
		if !ok {
			t.Fatalf("kafka-topics --describe shows no partition %d: %+v", p, parts)
		}
		if !sameBrokers(pt.replicas, 1, 2, 3) || !sameBrokers(pt.isr, 1, 2, 3) {
			t.Errorf("partition %d: %+v, want replicas and ISR {1,2,3}", p, pt)
		}
		leaders[pt.leader] = true
	}
	if len(parts) != 3 {
		t.Errorf("kafka-topics --describe shows %d partitions, want 3: %+v", len(parts), parts)
	}
	// Kafka's assignment makes each broker the preferred leader of one of
	// three partitions; at least the load must not sit on one broker.
	if len(leaders) < 2 {
		t.Errorf("every partition is led by the same broker: %+v", parts)
	}
	if t.Failed() {
		t.FailNow()
	}

	// Keys spread the lines over the partitions, so partition 0, whose
	// leader dies below, holds some of them.
	produce := func(bootstrap, tag string) []string {
		t.Helper()
		var in strings.Builder
		var sent []string
		for i := range perBatch {
			v := fmt.Sprintf("%s-%02d", tag, i)
			fmt.Fprintf(&in, "k%d:%s\n", i, v)
			sent = append(sent, v)
		}
		runNoErrors(t, k, in.String(), consoleProducer, "--bootstrap-server", bootstrap, "--topic", topic,
			"--producer-property", "acks=all", "--property", "parse.key=true", "--property", "key.separator=:")
		return sent
	}
	consumeAll := func(bootstrap string, want []string) {
		t.Helper()
		r := runNoErrors(t, k, "", consoleConsumer, "--bootstrap-server", bootstrap, "--topic", topic,
			"--from-beginning", "--max-messages", strconv.Itoa(len(want)), "--timeout-ms", "30000")
		sameLines(t, "kafka-console-consumer", lines(r.stdout), want)
	}

	sent := produce(all, "before")
	consumeAll(all, sent)

	dead := parts[0].leader
	if err := c.Broker(dead).Kill(); err != nil {
		t.Fatalf("kill broker %d: %v", dead, err)
	}
	t.Logf("killed broker %d, leader of %s-0", dead, topic)
	// The tools still get every address, the dead one included, as a
	// user's configuration would.
	sent = append(sent, produce(all, "after")...)
	consumeAll(all, sent)

	parts = waitForTopic(t, k, all, topic, fmt.Sprintf("a leader other than %d and no ISR holding it", dead), func(parts map[int32]partitionRow) bool {
		for _, pt := range parts {
			if pt.leader == dead || pt.leader < 0 || slices.Contains(pt.isr, dead) || len(pt.isr) != 2 {
				return false
			}
		}
		return len(parts) == 3
	})
	t.Logf("after the kill: %+v", parts)

	if err := c.Broker(dead).Restart(t.Context()); err != nil {
		t.Fatalf("restart broker %d: %v", dead, err)
	}
	waitForTopic(t, k, all, topic, "every ISR back to {1,2,3}", func(parts map[int32]partitionRow) bool {
		for _, pt := range parts {
			if !sameBrokers(pt.isr, 1, 2, 3) {
				return false
			}
		}
		return len(parts) == 3
	})

	// A group consumes everything and commits on exit (the console
	// consumer auto-commits and commits again on close).
	r := runNoErrors(t, k, "", consoleConsumer, "--bootstrap-server", all, "--topic", topic, "--group", group,
		"--from-beginning", "--max-messages", strconv.Itoa(len(sent)), "--timeout-ms", "30000")
	sameLines(t, "kafka-console-consumer --group "+group, lines(r.stdout), sent)
	committed := checkGroupLagZero(t, k, all, group, topic, len(sent))

	coord := groupCoordinator(t, k, all, group)
	if err := c.Broker(coord).Kill(); err != nil {
		t.Fatalf("kill broker %d: %v", coord, err)
	}
	t.Logf("killed broker %d, coordinator of group %s", coord, group)
	survivors := bootstrapExcept(c, coord)
	var last string
	waitFor(t, failoverTimeout, func() string {
		return fmt.Sprintf("kafka-consumer-groups --describe --group %s from brokers %s never showed offsets %v; last:\n%s", group, survivors, committed, last)
	}, func() bool {
		r := k.run(t, "", consumerGroupsTool, "--bootstrap-server", survivors, "--describe", "--group", group)
		last = r.stdout + r.stderr
		rows, err := parseGroupRows(r.stdout, group)
		if r.err != nil || err != nil {
			return false
		}
		for tp, want := range committed {
			if got, ok := rows[tp]; !ok || got.current != want {
				return false
			}
		}
		return true
	})
	if newCoord := groupCoordinator(t, k, survivors, group); newCoord == coord {
		t.Errorf("kafka-consumer-groups --describe --state still names the dead broker %d as coordinator", coord)
	}
}

// partitionRow is one partition line of kafka-topics --describe.
type partitionRow struct {
	leader        int32 // -1 for "none"
	replicas, isr []int32
}

// describeRow matches a partition line of kafka-topics --describe:
// "Topic: t<TAB>Partition: 0<TAB>Leader: 1<TAB>Replicas: 1,2,3<TAB>Isr: 1,2,3...".
var describeRow = regexp.MustCompile(`Partition:\s*(\d+)\s+Leader:\s*(-?\d+|none)\s+Replicas:\s*([\d,]*)\s+Isr:\s*([\d,]*)`)

// parseDescribe returns the partition rows of kafka-topics --describe
// output, by partition.
func parseDescribe(out string) (map[int32]partitionRow, error) {
	rows := map[int32]partitionRow{}
	for _, l := range lines(out) {
		m := describeRow.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		p, err := strconv.ParseInt(m[1], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("partition in %q: %w", l, err)
		}
		leader := int64(-1)
		if m[2] != "none" {
			if leader, err = strconv.ParseInt(m[2], 10, 32); err != nil {
				return nil, fmt.Errorf("leader in %q: %w", l, err)
			}
		}
		replicas, err := parseIDs(m[3])
		if err != nil {
			return nil, fmt.Errorf("replicas in %q: %w", l, err)
		}
		isr, err := parseIDs(m[4])
		if err != nil {
			return nil, fmt.Errorf("isr in %q: %w", l, err)
		}
		rows[int32(p)] = partitionRow{leader: int32(leader), replicas: replicas, isr: isr}
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("no partition rows in:\n%s", out)
	}
	return rows, nil
}

func parseIDs(s string) ([]int32, error) {
	var out []int32
	for _, f := range strings.Split(s, ",") {
		if f == "" {
			continue
		}
		id, err := strconv.ParseInt(f, 10, 32)
		if err != nil {
			return nil, err
		}
		out = append(out, int32(id))
	}
	return out, nil
}

// describeTopic runs kafka-topics --describe, which must succeed.
func describeTopic(t *testing.T, k *kafka, bootstrap, topic string) map[int32]partitionRow {
	t.Helper()
	r := k.mustRun(t, "", topicsTool, "--bootstrap-server", bootstrap, "--describe", "--topic", topic)
	t.Logf("kafka-topics --describe:\n%s", r.stdout)
	rows, err := parseDescribe(r.stdout)
	if err != nil {
		t.Fatalf("kafka-topics --describe: %v", err)
	}
	return rows
}

// waitForTopic runs kafka-topics --describe until its partitions satisfy
// cond, and returns them.
func waitForTopic(t *testing.T, k *kafka, bootstrap, topic, what string, cond func(map[int32]partitionRow) bool) map[int32]partitionRow {
	t.Helper()
	var rows map[int32]partitionRow
	var last string
	waitFor(t, failoverTimeout, func() string {
		return fmt.Sprintf("kafka-topics --describe never showed %s; last:\n%s", what, last)
	}, func() bool {
		r := k.run(t, "", topicsTool, "--bootstrap-server", bootstrap, "--describe", "--topic", topic)
		last = r.stdout + r.stderr
		parsed, err := parseDescribe(r.stdout)
		if r.err != nil || err != nil {
			return false
		}
		rows = parsed
		return cond(rows)
	})
	t.Logf("kafka-topics --describe shows %s:\n%s", what, last)
	return rows
}

// runNoErrors runs a tool that must exit zero without an ERROR log line.
// Unlike mustRun it lets warnings that name exceptions pass: after a
// broker died, clients log NotLeaderOrFollowerException and disconnects as
// warnings while they retry, which is what they should do.
func runNoErrors(t *testing.T, k *kafka, stdin, main string, args ...string) result {
	t.Helper()
	r := k.run(t, stdin, main, args...)
	var errs []string
	for _, l := range strings.Split(r.stderr, "\n") {
		if strings.Contains(l, "] ERROR ") {
			errs = append(errs, l)
		}
	}
	if r.err != nil || len(errs) > 0 {
		t.Fatalf("%s %s: %v%s\nstdout:\n%s\nstderr:\n%s", shortName(main), strings.Join(args, " "), errOrOK(r.err), javaHint(r.stderr), r.stdout, r.stderr)
	}
	if w := strings.Count(r.stderr, "] WARN "); w > 0 {
		t.Logf("%s logged %d warnings, first lines:\n%s", shortName(main), w, strings.Join(lines(r.stderr)[:min(8, len(lines(r.stderr)))], "\n"))
	}
	return r
}

// sameLines checks that got holds exactly the lines of want, each once, in
// any order (lines of different partitions interleave arbitrarily).
func sameLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	if slices.Equal(g, w) {
		return
	}
	seen := map[string]int{}
	for _, l := range got {
		seen[l]++
	}
	var missing, dup []string
	for _, l := range want {
		switch seen[l] {
		case 0:
			missing = append(missing, l)
		case 1:
		default:
			dup = append(dup, l)
		}
		delete(seen, l)
	}
	var extra []string
	for l := range seen {
		extra = append(extra, l)
	}
	t.Fatalf("%s printed %d lines, want %d: missing %q, duplicated %q, unexpected %q", what, len(got), len(want), missing, dup, extra)
}

// sameBrokers reports whether ids are exactly want, in any order.
func sameBrokers(ids []int32, want ...int32) bool {
	s := slices.Clone(ids)
	slices.Sort(s)
	return slices.Equal(s, want)
}

// parseGroupRows parses the partition rows of kafka-consumer-groups
// --describe (GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG
// CONSUMER-ID HOST CLIENT-ID); a group without members shows "-" for the
// last three.
func parseGroupRows(out, group string) (map[groupRowKey]groupRow, error) {
	rows := map[groupRowKey]groupRow{}
	header := false
	for _, l := range lines(out) {
		f := strings.Fields(l)
		if len(f) >= 6 && f[0] == "GROUP" && f[5] == "LAG" {
			header = true
			continue
		}
		if !header || len(f) != 9 || f[0] != group {
			continue
		}
		p, err1 := strconv.ParseInt(f[2], 10, 32)
		cur, err2 := strconv.ParseInt(f[3], 10, 64)
		end, err3 := strconv.ParseInt(f[4], 10, 64)
		lag, err4 := strconv.ParseInt(f[5], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
			return nil, fmt.Errorf("row %q does not parse", l)
		}
		rows[groupRowKey{f[1], int32(p)}] = groupRow{current: cur, logEnd: end, lag: lag, consumerID: f[6]}
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("no partition rows in:\n%s", out)
	}
	return rows, nil
}

// checkGroupLagZero asserts, with kafka-consumer-groups --describe, that
// the group committed the log end of each of the topic's three partitions,
// which together hold the produced lines, and returns the committed offsets.
func checkGroupLagZero(t *testing.T, k *kafka, bootstrap, group, topic string, produced int) map[groupRowKey]int64 {
	t.Helper()
	r := k.mustRun(t, "", consumerGroupsTool, "--bootstrap-server", bootstrap, "--describe", "--group", group)
	t.Logf("kafka-consumer-groups --describe --group %s:\n%s", group, r.stdout)
	rows, err := parseGroupRows(r.stdout, group)
	if err != nil {
		t.Fatalf("kafka-consumer-groups --describe: %v", err)
	}
	committed := map[groupRowKey]int64{}
	var total int64
	for p := range int32(3) {
		key := groupRowKey{topic, p}
		row, ok := rows[key]
		if !ok {
			t.Fatalf("kafka-consumer-groups --describe has no row for %s-%d:\n%s", topic, p, r.stdout)
		}
		if row.lag != 0 || row.current != row.logEnd || row.current <= 0 {
			t.Errorf("%s-%d: %+v, want a positive offset equal to the log end, lag 0", topic, p, row)
		}
		committed[key] = row.current
		total += row.current
	}
	if total != int64(produced) {
		t.Errorf("committed offsets sum to %d, want the %d lines produced", total, produced)
	}
	return committed
}

// coordinatorCol matches the COORDINATOR (ID) column of
// kafka-consumer-groups --describe --state: "127.0.0.1:1234 (2)".
var coordinatorCol = regexp.MustCompile(`\S+:\d+\s+\((\d+)\)`)

// groupCoordinator returns the group's coordinator as kafka-consumer-groups
// --describe --state names it.
func groupCoordinator(t *testing.T, k *kafka, bootstrap, group string) int32 {
	t.Helper()
	r := k.mustRun(t, "", consumerGroupsTool, "--bootstrap-server", bootstrap, "--describe", "--state", "--group", group)
	t.Logf("kafka-consumer-groups --describe --state --group %s:\n%s", group, r.stdout)
	for _, l := range lines(r.stdout) {
		if f := strings.Fields(l); len(f) == 0 || f[0] != group {
			continue
		}
		if m := coordinatorCol.FindStringSubmatch(l); m != nil {
			id, err := strconv.ParseInt(m[1], 10, 32)
			if err == nil {
				return int32(id)
			}
		}
	}
	t.Fatalf("kafka-consumer-groups --describe --state names no coordinator:\n%s\n%s", r.stdout, r.stderr)
	return -1
}
