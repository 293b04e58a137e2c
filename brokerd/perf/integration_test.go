package perf

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"
)

// TestSpawnedBrokerdTinyCell runs one tiny cell against a real brokerd
// spawned from $KAFKI_BROKERD_BIN (the Makefile points it at bin/brokerd);
// it builds nothing itself and is skipped when the variable is unset.
func TestSpawnedBrokerdTinyCell(t *testing.T) {
	bin := os.Getenv("KAFKI_BROKERD_BIN")
	if bin == "" {
		t.Skip("KAFKI_BROKERD_BIN not set")
	}
	cfg := DefaultConfig()
	cfg.Bootstrap = ""
	cfg.SpawnBroker = bin
	cfg.RecordSizes = []int{100}
	cfg.Acks = []Acks{AcksAll}
	cfg.Duration, cfg.Warmup = 0, 0
	cfg.Records = 2000
	cfg.ConsumeTimeout = 10 * time.Second
	cfg.ProgressInterval = 0
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	var progress bytes.Buffer
	rep, err := Run(ctx, cfg, &progress)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, progress.String())
	}
	c := rep.Cells[0]
	if c.Failed() {
		t.Fatalf("cell failed: %s\n%s", c.Error, progress.String())
	}
	if c.Produce.TotalAcked != 2000 || c.Consume.Records != c.Produce.TotalAcked {
		t.Fatalf("produced %d, acknowledged %d, consumed %d; want 2000 each",
			cfg.Records, c.Produce.TotalAcked, c.Consume.Records)
	}
	if rep.BrokerPeakRSSBytes <= 0 {
		t.Fatalf("broker RSS not sampled")
	}
}
