package compat

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// logDirsTool is the main class of kafka-log-dirs.sh (Kafka 4.x).
const logDirsTool = "org.apache.kafka.tools.LogDirsCommand"

// logDirsOutput is the JSON document kafka-log-dirs --describe prints.
type logDirsOutput struct {
	Brokers []struct {
		Broker  int32 `json:"broker"`
		LogDirs []struct {
			Error      *string `json:"error"`
			LogDir     string  `json:"logDir"`
			Partitions []struct {
				Partition string `json:"partition"` // "topic-N"
				Size      int64  `json:"size"`
				OffsetLag int64  `json:"offsetLag"`
				IsFuture  bool   `json:"isFuture"`
			} `json:"partitions"`
		} `json:"logDirs"`
	} `json:"brokers"`
}

// TestLogDirs runs kafka-log-dirs --describe, as operators do to see topic
// sizes on disk: every partition of the topic is listed under the broker's
// data directory with the bytes produced to it.
func TestLogDirs(t *testing.T) {
	k := kafkaTools(t)
	dataDir := t.TempDir()
	// A later --data.dir wins over the harness's own.
	b := startBroker(t, "--data.dir="+dataDir)

	cl := newClient(t, b.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if resp, err := kadm.NewClient(cl).CreateTopic(t.Context(), 2, 1, nil, "sizes"); err != nil || resp.Err != nil {
		t.Fatalf("create topic: %v %v", err, resp.Err)
	}
	for i := range 20 {
		r := &kgo.Record{Topic: "sizes", Partition: int32(i % 2), Value: fmt.Appendf(nil, "record-%d", i)}
		if err := cl.ProduceSync(t.Context(), r).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}

	r := k.mustRun(t, "", logDirsTool, "--describe", "--bootstrap-server", b.Bootstrap(), "--topic-list", "sizes")
	var out logDirsOutput
	parsed := false
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(line, "{") {
			if err := json.Unmarshal([]byte(line), &out); err != nil {
				t.Fatalf("parse %q: %v", line, err)
			}
			parsed = true
		}
	}
	if !parsed {
		t.Fatalf("no JSON in kafka-log-dirs output:\n%s", r.stdout)
	}
	if len(out.Brokers) != 1 || len(out.Brokers[0].LogDirs) != 1 {
		t.Fatalf("want one broker with one log dir:\n%s", r.stdout)
	}
	dir := out.Brokers[0].LogDirs[0]
	wantDir, err := filepath.Abs(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if dir.LogDir != wantDir {
		t.Errorf("log dir %q, want the broker's data dir %q", dir.LogDir, wantDir)
	}
	if dir.Error != nil {
		t.Errorf("log dir error %q", *dir.Error)
	}
	got := map[string]int64{}
	for _, p := range dir.Partitions {
		got[p.Partition] = p.Size
		if p.OffsetLag != 0 || p.IsFuture {
			t.Errorf("%s: offset lag %d, future %v; want 0, false", p.Partition, p.OffsetLag, p.IsFuture)
		}
	}
	for _, name := range []string{"sizes-0", "sizes-1"} {
		if size, ok := got[name]; !ok || size <= 0 {
			t.Errorf("%s: listed %v, size %d; want listed with size > 0 (output %s)", name, ok, size, r.stdout)
		}
	}
	if len(got) != 2 {
		t.Errorf("partitions %v, want only the two of the listed topic", got)
	}
}
