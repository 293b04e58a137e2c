package cli_test

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/internal/testbroker"
	"github.com/kafki/kafki/internal/poll"
)

func startGroupBroker(t *testing.T) string {
	return startBroker(t, testbroker.WithConfig(func(c *config.Config) {
		c.GroupInitialRebalanceDelay = 0
		c.GroupMinSessionTimeout = 100 * time.Millisecond
		c.OffsetsTopicPartitions = 3
	}))
}

// describeRow is one partition line of "groups describe".
type describeRow struct {
	partition                 int
	current, end, lag, member string
}

func describeRows(t *testing.T, bs, group string) map[int]describeRow {
	t.Helper()
	out := mustRun(t, bs, "", "groups", "describe", "--group", group)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !regexp.MustCompile(`^GROUP\s+TOPIC\s+PARTITION\s+CURRENT-OFFSET\s+LOG-END-OFFSET\s+LAG\s+CONSUMER-ID\s+HOST\s+CLIENT-ID$`).MatchString(lines[0]) {
		t.Fatalf("describe header %q", lines[0])
	}
	rows := map[int]describeRow{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != 9 || f[0] != group {
			t.Fatalf("describe line %q", l)
		}
		p, _ := strconv.Atoi(f[2])
		rows[p] = describeRow{p, f[3], f[4], f[5], f[6]}
	}
	return rows
}

func sumField(t *testing.T, rows map[int]describeRow, field func(describeRow) string) int64 {
	t.Helper()
	var n int64
	for _, r := range rows {
		v, err := strconv.ParseInt(field(r), 10, 64)
		if err != nil {
			t.Fatalf("row %+v: not a number", r)
		}
		n += v
	}
	return n
}

func TestGroupsListDescribeResetDelete(t *testing.T) {
	bs := startGroupBroker(t)
	mustRun(t, bs, "", "topics", "create", "--topic", "orders", "--partitions", "2")
	mustRun(t, bs, strings.Repeat("x\n", 10), "produce", "--topic", "orders")
	mustRun(t, bs, "", "consume", "--topic", "orders", "--group", "billing", "--from-beginning", "--max-messages", "10")

	if out := mustRun(t, bs, "", "groups", "list"); !containsLine(out, "billing") {
		t.Fatalf("list = %q", out)
	}
	if out := mustRun(t, bs, "", "groups", "list", "--state"); !regexp.MustCompile(`(?m)^billing\s+Empty$`).MatchString(out) {
		t.Fatalf("list --state = %q", out)
	}
	rows := describeRows(t, bs, "billing")
	if len(rows) == 0 || sumField(t, rows, func(r describeRow) string { return r.current }) != 10 ||
		sumField(t, rows, func(r describeRow) string { return r.lag }) != 0 {
		t.Fatalf("describe after consuming everything: %+v", rows)
	}
	// Commit every partition (at its end) so lag shows wherever records go.
	mustRun(t, bs, "", "groups", "reset-offsets", "--group", "billing", "--topic", "orders", "--to-latest", "--execute")
	mustRun(t, bs, "a\nb\nc\n", "produce", "--topic", "orders")
	if lag := sumField(t, describeRows(t, bs, "billing"), func(r describeRow) string { return r.lag }); lag != 3 {
		t.Fatalf("lag %d after 3 more records, want 3", lag)
	}

	// Dry run prints the plan and changes nothing.
	r := kafki(t, bs, "", "groups", "reset-offsets", "--group", "billing", "--topic", "orders", "--to-earliest")
	if r.code != 0 || !regexp.MustCompile(`(?m)^billing\s+orders\s+0\s+0$`).MatchString(r.stdout) || !strings.Contains(r.stderr, "--execute") {
		t.Fatalf("dry run: %+v", r)
	}
	if cur := sumField(t, describeRows(t, bs, "billing"), func(r describeRow) string { return r.current }); cur != 10 {
		t.Fatalf("dry run changed offsets: current sum %d", cur)
	}
	mustRun(t, bs, "", "groups", "reset-offsets", "--group", "billing", "--topic", "orders", "--to-earliest", "--execute")
	rows = describeRows(t, bs, "billing")
	if cur := sumField(t, rows, func(r describeRow) string { return r.current }); cur != 0 {
		t.Fatalf("after --to-earliest: current sum %d", cur)
	}
	if len(rows) != 2 {
		t.Fatalf("after resetting every partition: %+v, want both partitions", rows)
	}
	// The producer's sticky partitioner put the records in one partition.
	full, empty := 0, 1
	if rows[1].end != "0" {
		full, empty = 1, 0
	}
	mustRun(t, bs, "", "groups", "reset-offsets", "--group", "billing", "--topic", "orders:"+strconv.Itoa(full), "--to-offset", "2", "--execute")
	if rows = describeRows(t, bs, "billing"); rows[full].current != "2" || rows[empty].current != "0" {
		t.Fatalf("--to-offset 2 on partition %d only: %+v", full, rows)
	}
	mustRun(t, bs, "", "groups", "reset-offsets", "--group", "billing", "--topic", "orders:0,1", "--to-offset", "1000000", "--execute")
	if rows = describeRows(t, bs, "billing"); rows[0].current != rows[0].end || rows[1].current != rows[1].end {
		t.Fatalf("--to-offset clamps to the end: %+v", rows)
	}
	mustRun(t, bs, "", "groups", "reset-offsets", "--group", "billing", "--all-topics", "--to-datetime", "2999-01-01T00:00:00Z", "--execute")
	if lag := sumField(t, describeRows(t, bs, "billing"), func(r describeRow) string { return r.lag }); lag != 0 {
		t.Fatalf("--to-datetime in the future: lag %d, want 0", lag)
	}
	mustRun(t, bs, "", "groups", "reset-offsets", "--group", "billing", "--all-topics", "--to-datetime", "2000-01-01T00:00:00Z", "--execute")
	if cur := sumField(t, describeRows(t, bs, "billing"), func(r describeRow) string { return r.current }); cur != 0 {
		t.Fatalf("--to-datetime in the past: current sum %d, want 0", cur)
	}
	// The consumer re-reads from the reset position.
	got := mustRun(t, bs, "", "consume", "--topic", "orders", "--group", "billing", "--max-messages", "13")
	if n := strings.Count(got, "\n"); n != 13 {
		t.Fatalf("re-consumed %d records after reset, want 13", n)
	}

	out := mustRun(t, bs, "", "groups", "delete", "--group", "billing")
	if out != "Deletion of requested consumer groups ('billing') was successful.\n" {
		t.Fatalf("delete printed %q", out)
	}
	if out := mustRun(t, bs, "", "groups", "list"); containsLine(out, "billing") {
		t.Fatalf("deleted group still listed: %q", out)
	}
	wantFailure(t, kafki(t, bs, "", "groups", "delete", "--group", "billing"), 1, "billing")
	wantFailure(t, kafki(t, bs, "", "groups", "describe", "--group", "billing"), 1, "does not exist")
}

// --to-datetime inside the log picks the first record whose timestamp
// is at or after the time: between two records, the later one; on a
// record's exact time, that record.
func TestGroupsResetToDatetimeInsideLog(t *testing.T) {
	bs := startGroupBroker(t)
	mustRun(t, bs, "", "topics", "create", "--topic", "clock", "--partitions", "1")
	cl, err := kgo.NewClient(kgo.SeedBrokers(bs))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// Records at t0, t0+1s, ..., t0+5s (CreateTime, set by the producer).
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for i := 0; i < 6; i++ {
		r := &kgo.Record{Topic: "clock", Value: fmt.Appendf(nil, "r%d", i), Timestamp: t0.Add(time.Duration(i) * time.Second)}
		if err := cl.ProduceSync(t.Context(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	mustRun(t, bs, "", "consume", "--topic", "clock", "--group", "timely", "--from-beginning", "--max-messages", "6")
	current := func() string {
		t.Helper()
		rows := describeRows(t, bs, "timely")
		if len(rows) != 1 {
			t.Fatalf("describe: %+v", rows)
		}
		return rows[0].current
	}
	if c := current(); c != "6" {
		t.Fatalf("after consuming everything: current %s, want 6", c)
	}
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{t0.Add(2500 * time.Millisecond), "3"}, // between r2 and r3
		{t0.Add(2 * time.Second), "2"},         // exactly r2's time
		{t0.Add(-time.Hour), "0"},              // before the first record
		{t0.Add(4001 * time.Millisecond), "5"}, // just after r4
	} {
		at := c.at.Format(time.RFC3339Nano)
		mustRun(t, bs, "", "groups", "reset-offsets", "--group", "timely", "--topic", "clock", "--to-datetime", at, "--execute")
		if got := current(); got != c.want {
			t.Errorf("--to-datetime %s: current %s, want %s", at, got, c.want)
		}
	}
	// A consumer of the group resumes at the reset position: r5 only.
	mustRun(t, bs, "", "groups", "reset-offsets", "--group", "timely", "--topic", "clock", "--to-datetime", t0.Add(4500*time.Millisecond).Format(time.RFC3339Nano), "--execute")
	if got := mustRun(t, bs, "", "consume", "--topic", "clock", "--group", "timely", "--max-messages", "1"); got != "r5\n" {
		t.Fatalf("consumed %q after the reset, want r5", got)
	}
}

func TestGroupsActiveGroupCannotBeResetOrDeleted(t *testing.T) {
	bs := startGroupBroker(t)
	mustRun(t, bs, "", "topics", "create", "--topic", "live")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan result, 1)
	go func() {
		done <- kafkiCtx(t, ctx, bs, "", "consume", "--topic", "live", "--group", "busy", "--session-timeout", "1s")
	}()
	defer func() { cancel(); <-done }()
	member := regexp.MustCompile(`(?m)^busy\s+kafki-\S+\s+/127\.0\.0\.1\s+kafki\s+1$`)
	poll.Must(t, 15*time.Second, "the member in groups describe", func() error {
		if out := kafki(t, bs, "", "groups", "describe", "--group", "busy", "--members").stdout; !member.MatchString(out) {
			return fmt.Errorf("not in %q", out)
		}
		return nil
	})
	if out := mustRun(t, bs, "", "groups", "describe", "--group", "busy", "--state"); !regexp.MustCompile(`(?m)^busy\s+\S+:\d+ \(1\)\s+cooperative-sticky\s+Stable\s+1$`).MatchString(out) {
		t.Fatalf("describe --state = %q", out)
	}
	wantFailure(t, kafki(t, bs, "", "groups", "reset-offsets", "--group", "busy", "--topic", "live", "--to-earliest", "--execute"), 1, "no members", "Stable")
	wantFailure(t, kafki(t, bs, "", "groups", "delete", "--group", "busy"), 1, "busy")
}

func TestGroupsUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"groups"},
		{"groups", "nope"},
		{"groups", "describe"},
		{"groups", "delete"},
		{"groups", "reset-offsets", "--group", "g", "--to-earliest"},
		{"groups", "reset-offsets", "--group", "g", "--topic", "t"},
		{"groups", "reset-offsets", "--group", "g", "--topic", "t", "--to-earliest", "--to-latest"},
		{"groups", "reset-offsets", "--group", "g", "--topic", "t:x", "--to-earliest"},
		{"groups", "reset-offsets", "--group", "g", "--topic", "t", "--to-datetime", "yesterday"},
		{"consume", "--topic", "t", "--session-timeout", "1s"},
	} {
		r := kafki(t, "localhost:1", "", args...)
		if r.code != 2 {
			t.Errorf("kafki %s: exit %d, want 2 (stderr %q)", strings.Join(args, " "), r.code, r.stderr)
		}
	}
}
