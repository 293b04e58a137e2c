package compat

// Tests that need the group coordinator: Kafka's console consumer always
// joins a group (a random one when --group is not given).

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const groupTimeout = 60 * time.Second // join, rebalance, consume, commit

// TestQuickstartConsoleConsumer is the last step of Kafka's quickstart:
// `kafka-console-consumer --topic test --from-beginning` prints both
// events (--max-messages 2 makes it exit).
func TestQuickstartConsoleConsumer(t *testing.T) {
	k := kafkaTools(t)
	b := startBroker(t)
	cl := newClient(t, b.Addr(), kgo.DefaultProduceTopic("test"))
	createTopic(t, cl, "test", 1)
	var recs []*kgo.Record
	for _, e := range quickstartEvents {
		recs = append(recs, kgo.StringRecord(e))
	}
	if err := cl.ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}

	r := k.mustRun(t, "", consoleConsumer, "--topic", "test", "--from-beginning", "--max-messages", "2", "--bootstrap-server", b.Bootstrap())
	if got := lines(r.stdout); !slices.Equal(got, quickstartEvents) {
		t.Fatalf("kafka-console-consumer printed %q, want %q", got, quickstartEvents)
	}
	if !strings.Contains(r.stderr, "Processed a total of 2 messages") {
		t.Errorf("kafka-console-consumer did not report 2 messages:\n%s", r.stderr)
	}
}

// TestConsoleConsumerGroupSplitsPartitions runs two kafka-console-consumer
// processes in one group on a 4-partition topic: each gets some of the
// partitions, together they print every record exactly once, and
// kafka-consumer-groups --describe shows the members and their lag, first
// none while they keep up, then the records produced after they left; then
// kafka-consumer-groups lists, rewinds and deletes the group.
func TestConsoleConsumerGroupSplitsPartitions(t *testing.T) {
	const (
		topic      = "split"
		group      = "G"
		partitions = 4
		perPart    = 10
	)
	k := kafkaTools(t)
	b := startBroker(t)
	cl := newClient(t, b.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	adm := kadm.NewClient(cl)
	createTopic(t, cl, topic, partitions)

	// Both members join before any record exists, so the split is decided
	// before anything is consumed; --from-beginning makes a member that
	// finds no committed offset start at 0, whenever it gets there.
	consumerArgs := []string{"--bootstrap-server", b.Bootstrap(), "--topic", topic, "--group", group, "--from-beginning",
		"--formatter-property", "print.partition=true",
		"--command-property", "auto.commit.interval.ms=100"}
	members := []*javaProc{k.start(t, consoleConsumer, consumerArgs...), k.start(t, consoleConsumer, consumerArgs...)}
	waitForSplit(t, adm, group, members, partitions)

	var recs []*kgo.Record
	for p := range partitions {
		for i := range perPart {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(p), Value: fmt.Appendf(nil, "p%d-%02d", p, i)})
		}
	}
	if err := cl.ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	total := func() int { return len(lines(members[0].stdout.String())) + len(lines(members[1].stdout.String())) }
	waitFor(t, groupTimeout, func() string {
		return fmt.Sprintf("the consumers printed %d of %d records:\n%s\n--\n%s", total(), len(recs), members[0].stdout.String(), members[1].stdout.String())
	}, func() bool { return total() >= len(recs) })
	waitForCommitted(t, adm, group, topic, partitions, perPart)

	rows := describeGroup(t, k, b, group)
	consumerIDs := map[string]bool{}
	for p := range partitions {
		row, ok := rows[groupRowKey{topic, int32(p)}]
		if !ok {
			t.Fatalf("kafka-consumer-groups --describe has no row for %s/%d: %v", topic, p, rows)
		}
		if row.current != perPart || row.logEnd != perPart || row.lag != 0 || row.consumerID == "-" {
			t.Errorf("%s/%d while consumed: %+v, want offset %d, log end %d, lag 0, a consumer", topic, p, row, perPart, perPart)
		}
		consumerIDs[row.consumerID] = true
	}
	if len(consumerIDs) != 2 {
		t.Errorf("kafka-consumer-groups --describe shows consumers %v, want two", consumerIDs)
	}

	for _, m := range members {
		m.stop(t)
	}
	checkSplit(t, members, partitions, perPart)

	// Records produced while nobody consumes are the group's lag.
	behind := map[int32]int{0: 5, 2: 3}
	recs = recs[:0]
	for p, n := range behind {
		for i := range n {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: fmt.Appendf(nil, "late-%d", i)})
		}
	}
	if err := cl.ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	rows = describeGroup(t, k, b, group)
	for p := range partitions {
		row := rows[groupRowKey{topic, int32(p)}]
		want := int64(behind[int32(p)])
		if row.current != perPart || row.logEnd != perPart+want || row.lag != want {
			t.Errorf("%s/%d after the members left: %+v, want offset %d, lag %d", topic, p, row, perPart, want)
		}
	}

	manageEmptyGroup(t, k, b, adm, group, topic, partitions)
}

// manageEmptyGroup lists, rewinds and deletes a group without members
// with kafka-consumer-groups (ListGroups, OffsetCommit through the admin
// client, DeleteGroups).
func manageEmptyGroup(t *testing.T, k *kafka, b *broker, adm *kadm.Client, group, topic string, partitions int) {
	t.Helper()
	r := k.mustRun(t, "", consumerGroupsTool, "--bootstrap-server", b.Bootstrap(), "--list")
	if !slices.Contains(lines(r.stdout), group) {
		t.Errorf("kafka-consumer-groups --list printed %q, want %s listed", r.stdout, group)
	}

	r = k.mustRun(t, "", consumerGroupsTool, "--bootstrap-server", b.Bootstrap(), "--reset-offsets", "--to-earliest", "--execute", "--group", group, "--topic", topic)
	for p := range partitions {
		row := regexp.MustCompile(fmt.Sprintf(`(?m)^%s\s+%s\s+%d\s+0\s*$`, group, topic, p))
		if !row.MatchString(r.stdout) {
			t.Errorf("kafka-consumer-groups --reset-offsets --to-earliest printed no NEW-OFFSET 0 for partition %d:\n%s", p, r.stdout)
		}
	}
	waitForCommitted(t, adm, group, topic, partitions, 0)

	r = k.mustRun(t, "", consumerGroupsTool, "--bootstrap-server", b.Bootstrap(), "--delete", "--group", group)
	if !strings.Contains(r.stdout, fmt.Sprintf("Deletion of requested consumer groups ('%s') was successful.", group)) {
		t.Errorf("kafka-consumer-groups --delete printed:\n%s", r.stdout)
	}
	listed, err := adm.ListGroups(ctxT(t))
	if err != nil {
		t.Fatalf("list groups: %v", err)
	}
	if slices.Contains(listed.Groups(), group) {
		t.Errorf("group %s still listed after kafka-consumer-groups --delete", group)
	}
}

// waitForSplit waits until the group is stable with both members, each
// assigned some of the topic's partitions and all of them assigned.
func waitForSplit(t *testing.T, adm *kadm.Client, group string, members []*javaProc, partitions int) {
	t.Helper()
	var last string
	waitFor(t, groupTimeout, func() string {
		return fmt.Sprintf("group %s not split over 2 members: %s\nconsumer stderr:\n%s\n--\n%s", group, last, members[0].stderr.String(), members[1].stderr.String())
	}, func() bool {
		for _, m := range members {
			if m.exited() {
				t.Fatalf("a console consumer exited early (%v):\n%s", m.err, m.stderr.String())
			}
		}
		groups, err := adm.DescribeGroups(ctxT(t), group)
		if err != nil {
			last = err.Error()
			return false
		}
		g := groups[group]
		last = fmt.Sprintf("state %q, %d members, err %v", g.State, len(g.Members), g.Err)
		if g.Err != nil || g.State != "Stable" || len(g.Members) != 2 {
			return false
		}
		assigned := 0
		for _, m := range g.Members {
			ca, ok := m.Assigned.AsConsumer()
			if !ok {
				return false
			}
			n := 0
			for _, tp := range ca.Topics {
				n += len(tp.Partitions)
			}
			if n == 0 {
				return false
			}
			assigned += n
		}
		return assigned == partitions
	})
}

// waitForCommitted waits until the group committed offset want on every
// partition (the console consumer auto-commits every 100 ms here).
func waitForCommitted(t *testing.T, adm *kadm.Client, group, topic string, partitions int, want int64) {
	t.Helper()
	var last string
	waitFor(t, groupTimeout, func() string { return "committed offsets " + last }, func() bool {
		offs, err := adm.FetchOffsets(ctxT(t), group)
		if err != nil {
			last = err.Error()
			return false
		}
		last = fmt.Sprint(offs)
		for p := range partitions {
			o, ok := offs.Lookup(topic, int32(p))
			if !ok || o.Err != nil || o.At != want {
				return false
			}
		}
		return true
	})
}

// checkSplit asserts that each member printed records of its own
// partitions only, and that together they printed every record once.
func checkSplit(t *testing.T, members []*javaProc, partitions, perPart int) {
	t.Helper()
	line := regexp.MustCompile(`^Partition:(\d+)\t(p(\d+)-\d+)$`)
	owner := map[int]int{} // partition -> member
	seen := map[string]int{}
	for i, m := range members {
		got := lines(m.stdout.String())
		if len(got) == 0 {
			t.Errorf("member %d printed nothing; stderr:\n%s", i, m.stderr.String())
		}
		for _, l := range got {
			sub := line.FindStringSubmatch(l)
			if sub == nil || sub[1] != sub[3] {
				t.Errorf("member %d printed %q, want Partition:N<TAB>pN-XX", i, l)
				continue
			}
			p, _ := strconv.Atoi(sub[1])
			if o, ok := owner[p]; ok && o != i {
				t.Errorf("partition %d consumed by members %d and %d", p, o, i)
			}
			owner[p] = i
			seen[sub[2]]++
		}
	}
	for p := range partitions {
		for i := range perPart {
			v := fmt.Sprintf("p%d-%02d", p, i)
			if seen[v] != 1 {
				t.Errorf("record %s printed %d times, want once", v, seen[v])
			}
		}
	}
	if len(seen) != partitions*perPart {
		t.Errorf("%d distinct records printed, want %d", len(seen), partitions*perPart)
	}
}

type groupRowKey struct {
	topic     string
	partition int32
}

// groupRow is one partition row of kafka-consumer-groups --describe.
type groupRow struct {
	current, logEnd, lag int64
	consumerID           string
}

// describeGroup runs kafka-consumer-groups --describe and parses its
// partition rows (GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG
// CONSUMER-ID HOST CLIENT-ID).
func describeGroup(t *testing.T, k *kafka, b *broker, group string) map[groupRowKey]groupRow {
	t.Helper()
	r := k.mustRun(t, "", consumerGroupsTool, "--bootstrap-server", b.Bootstrap(), "--describe", "--group", group)
	t.Logf("kafka-consumer-groups --describe --group %s:\n%s", group, r.stdout)
	rows, err := parseGroupRows(r.stdout, group)
	if err != nil {
		t.Fatalf("kafka-consumer-groups --describe: %v\n%s", err, r.stderr)
	}
	return rows
}

func createTopic(t *testing.T, cl *kgo.Client, topic string, partitions int32) {
	t.Helper()
	resp, err := kadm.NewClient(cl).CreateTopic(ctxT(t), partitions, 1, nil, topic)
	if err != nil || resp.Err != nil {
		t.Fatalf("create topic %s: %v %v", topic, err, resp.Err)
	}
}
