package compat

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// deleteRecordsTool is the main class of kafka-delete-records.sh (Kafka 4.x).
const deleteRecordsTool = "org.apache.kafka.tools.DeleteRecordsCommand"

// TestDeleteRecordsTool runs kafka-delete-records with an offset JSON file,
// as operators do to drop the head of a topic: it reports the new low
// watermark (an offset inside a batch, exactly), and kafka-get-offsets
// --time -2 then shows it as the earliest offset.
func TestDeleteRecordsTool(t *testing.T) {
	k := kafkaTools(t)
	b := startBroker(t)
	cl := newClient(t, b.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if resp, err := kadm.NewClient(cl).CreateTopic(t.Context(), 1, 1, nil, "trim"); err != nil || resp.Err != nil {
		t.Fatalf("create topic: %v %v", err, resp.Err)
	}
	// Batches of 10 records: offset 25 is inside the third.
	for i := range 5 {
		var rs []*kgo.Record
		for j := range 10 {
			rs = append(rs, &kgo.Record{Topic: "trim", Value: fmt.Appendf(nil, "record-%d", 10*i+j)})
		}
		if err := cl.ProduceSync(t.Context(), rs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}

	file := filepath.Join(t.TempDir(), "offsets.json")
	if err := os.WriteFile(file, []byte(`{"version":1,"partitions":[{"topic":"trim","partition":0,"offset":25}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	r := k.mustRun(t, "", deleteRecordsTool, "--bootstrap-server", b.Bootstrap(), "--offset-json-file", file)
	if !regexp.MustCompile(`(?m)^partition: trim-0\s+low_watermark: 25$`).MatchString(r.stdout) {
		t.Fatalf("kafka-delete-records did not report low_watermark 25 for trim-0:\n%s\n%s", r.stdout, r.stderr)
	}

	r = k.mustRun(t, "", getOffsetsTool, "--bootstrap-server", b.Bootstrap(), "--topic", "trim", "--time", "-2")
	if got := lines(r.stdout); !slices.Equal(got, []string{"trim:0:25"}) {
		t.Errorf("kafka-get-offsets --time -2 printed %q, want trim:0:25", got)
	}
}
