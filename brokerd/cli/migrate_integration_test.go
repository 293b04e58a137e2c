package cli_test

import (
	"strings"
	"testing"
)

// TestMigratePlan plans a migration from a Kafki broker (any Kafka
// cluster will do; brokerd/compat runs it against Apache Kafka): each
// topic's row has its partitions, replication and only the configs set
// on the topic, and the create commands repeat them.
func TestMigratePlan(t *testing.T) {
	bs := startBroker(t)
	mustRun(t, bs, "", "topics", "create", "--topic", "orders", "--partitions", "3",
		"--config", "retention.ms=60000", "--config", "cleanup.policy=compact")
	mustRun(t, bs, "", "topics", "create", "--topic", "plain", "--partitions", "2")
	out := mustRun(t, bs, "", "migrate", "plan", "--source", bs)
	if !strings.Contains(out, ": 1 brokers, 2 topics, 5 partitions, 5 replicas, ") {
		t.Errorf("summary wrong:\n%s", out)
	}
	rows := map[string][]string{}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) >= 6 && (f[0] == "orders" || f[0] == "plain") {
			rows[f[0]] = f
		}
	}
	if f := rows["orders"]; len(f) != 6 || f[1] != "3" || f[2] != "1" || f[5] != "cleanup.policy=compact,retention.ms=60000" {
		t.Errorf("orders row %q, want 3 partitions, replication 1, its two configs sorted", f)
	}
	if f := rows["plain"]; len(f) != 6 || f[1] != "2" || f[5] != "-" {
		t.Errorf("plain row %q, want 2 partitions and no configs", f)
	}
	for _, want := range []string{
		"kafki topics create --topic orders --partitions 3 --replication-factor 1 --config cleanup.policy=compact --config retention.ms=60000",
		"kafki topics create --topic plain --partitions 2 --replication-factor 1\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	wantFailure(t, kafki(t, bs, "", "migrate", "plan"), 2, "--source is required")
}
