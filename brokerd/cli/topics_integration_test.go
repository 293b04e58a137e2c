package cli_test

import (
	"regexp"
	"strings"
	"testing"
)

// TestQuickstart follows Kafka's quickstart: create a topic, see it listed
// and described, write two events and read them back.
func TestQuickstart(t *testing.T) {
	bs := startBroker(t)
	if out := mustRun(t, bs, "", "topics", "create", "--topic", "quickstart-events"); out != "Created topic quickstart-events.\n" {
		t.Fatalf("create printed %q", out)
	}
	if out := mustRun(t, bs, "", "topics", "list"); !containsLine(out, "quickstart-events") {
		t.Fatalf("list = %q, want quickstart-events", out)
	}
	desc := mustRun(t, bs, "", "topics", "describe", "--topic", "quickstart-events")
	wantRe := regexp.MustCompile(`(?m)^Topic: quickstart-events\tTopicId: \S+\tPartitionCount: 1\tReplicationFactor: 1\tConfigs: \n` +
		`\tTopic: quickstart-events\tPartition: 0\tLeader: \d+\tReplicas: \d+\tIsr: \d+\n\z`)
	if !wantRe.MatchString(desc) {
		t.Fatalf("describe = %q, want kafka-topics layout", desc)
	}
	if out := mustRun(t, bs, "This is my first event\nThis is my second event\n", "produce", "--topic", "quickstart-events"); out != "" {
		t.Fatalf("produce printed %q on success, want nothing", out)
	}
	got := mustRun(t, bs, "", "consume", "--topic", "quickstart-events", "--from-beginning", "--max-messages", "2")
	if want := "This is my first event\nThis is my second event\n"; got != want {
		t.Fatalf("consume = %q, want %q", got, want)
	}
}

func TestCreateOptionsAndIfNotExists(t *testing.T) {
	bs := startBroker(t)
	mustRun(t, bs, "", "topics", "create", "--topic=orders", "--partitions=4", "--replication-factor", "1",
		"--config", "retention.ms=60000", "--config=retention.bytes=1048576")
	desc := mustRun(t, bs, "", "topics", "describe", "--topic", "orders")
	if !strings.Contains(desc, "PartitionCount: 4\t") {
		t.Errorf("describe = %q, want 4 partitions", desc)
	}
	if !strings.Contains(desc, "Configs: retention.bytes=1048576,retention.ms=60000\n") {
		t.Errorf("describe = %q, want both configs, sorted", desc)
	}
	if n := strings.Count(desc, "\tPartition: "); n != 4 {
		t.Errorf("describe has %d partition lines, want 4", n)
	}

	wantFailure(t, kafki(t, bs, "", "topics", "create", "--topic", "orders"), 1, "orders", "TOPIC_ALREADY_EXISTS")
	if r := kafki(t, bs, "", "topics", "create", "--topic", "orders", "--if-not-exists"); r.code != 0 || r.stdout != "" {
		t.Errorf("--if-not-exists on an existing topic: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestListAndDescribeAll(t *testing.T) {
	bs := startBroker(t)
	for _, topic := range []string{"b-topic", "a-topic"} {
		mustRun(t, bs, "", "topics", "create", "--topic", topic, "--partitions", "2")
	}
	if out := mustRun(t, bs, "", "topics", "list", "--exclude-internal"); out != "a-topic\nb-topic\n" {
		t.Errorf("list = %q, want both topics sorted", out)
	}
	desc := mustRun(t, bs, "", "topics", "describe")
	a, b := strings.Index(desc, "Topic: a-topic\t"), strings.Index(desc, "Topic: b-topic\t")
	if a < 0 || b < 0 || a > b {
		t.Errorf("describe of all topics = %q, want a-topic then b-topic", desc)
	}
}

func TestAlterPartitionsAndConfigs(t *testing.T) {
	bs := startBroker(t)
	mustRun(t, bs, "", "topics", "create", "--topic", "t", "--partitions", "1")
	mustRun(t, bs, "", "topics", "alter", "--topic", "t", "--partitions", "3",
		"--config", "retention.ms=1000", "--config", "segment.bytes=1048576")
	desc := mustRun(t, bs, "", "topics", "describe", "--topic", "t")
	if !strings.Contains(desc, "PartitionCount: 3\t") || !strings.Contains(desc, "\tPartition: 2\t") {
		t.Errorf("after alter --partitions 3, describe = %q", desc)
	}
	if !strings.Contains(desc, "Configs: retention.ms=1000,segment.bytes=1048576\n") {
		t.Errorf("after alter --config, describe = %q", desc)
	}

	mustRun(t, bs, "", "topics", "alter", "--topic", "t", "--delete-config", "retention.ms")
	desc = mustRun(t, bs, "", "topics", "describe", "--topic", "t")
	if !strings.Contains(desc, "Configs: segment.bytes=1048576\n") {
		t.Errorf("after --delete-config retention.ms, describe = %q", desc)
	}

	// Partitions can only grow.
	wantFailure(t, kafki(t, bs, "", "topics", "alter", "--topic", "t", "--partitions", "2"), 1, `"t" already has 3 partitions`)
	wantFailure(t, kafki(t, bs, "", "topics", "alter", "--topic", "nope", "--config", "retention.ms=1"), 1, "unknown topic", "nope")
}

func TestDelete(t *testing.T) {
	bs := startBroker(t)
	mustRun(t, bs, "", "topics", "create", "--topic", "doomed")
	mustRun(t, bs, "", "topics", "create", "--topic", "kept")
	if out := mustRun(t, bs, "", "topics", "delete", "--topic", "doomed"); out != "" {
		t.Errorf("delete printed %q", out)
	}
	if out := mustRun(t, bs, "", "topics", "list"); containsLine(out, "doomed") || !containsLine(out, "kept") {
		t.Errorf("list after delete = %q", out)
	}
	wantFailure(t, kafki(t, bs, "", "topics", "delete", "--topic", "doomed"), 1, "unknown topic", "doomed")
	mustRun(t, bs, "", "topics", "delete", "--topic", "doomed", "--if-exists")
	wantFailure(t, kafki(t, bs, "", "topics", "describe", "--topic", "doomed"), 1, "unknown topic", "doomed")
}

func containsLine(out, line string) bool {
	for _, l := range strings.Split(out, "\n") {
		if l == line {
			return true
		}
	}
	return false
}
