package compare

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/kafki/kafki/loadtest"
)

// TestKafkaSingleNodeTinyProduce starts a real Apache Kafka from the jars
// in $KAFKI_KAFKA_LIBS and runs a tiny produce workload against it: the
// Kafka side of make bench-compare. make test (make unit) fetches the jars
// (make kafka-deps) and sets the variable, so it runs there; a plain go
// test without the variable skips it, as it needs the jars and a JVM.
func TestKafkaSingleNodeTinyProduce(t *testing.T) {
	libs := os.Getenv(KafkaLibsEnv)
	if libs == "" {
		t.Skip(KafkaLibsEnv + " not set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	k, err := StartKafka(ctx, KafkaOptions{LibDir: libs, JVMOpts: []string{"-Xmx512M"}, Nodes: 1, Fsync: FsyncPageCache, Timeout: 90 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := k.Stop(30 * time.Second); err != nil {
			t.Error(err)
		}
	}()
	cfg := loadtest.DefaultConfig()
	cfg.Bootstrap, cfg.Topic = k.Bootstrap(), "tiny"
	cfg.Duration, cfg.Records, cfg.Warmup, cfg.Progress = 0, 2000, 0, 0
	cfg.BrokerPIDs = k.PIDs()
	rep, err := loadtest.Run(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.BrokerRecords != 2000 || rep.Produce.AllRecords != 2000 || rep.BrokerPeakRSSBytes == 0 {
		t.Fatalf("broker holds %d, acknowledged %d, RSS %d", rep.BrokerRecords, rep.Produce.AllRecords, rep.BrokerPeakRSSBytes)
	}
}
