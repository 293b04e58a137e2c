// Command loadtest drives a Kafka-compatible cluster with a produce,
// consume or end-to-end workload and reports throughput and latency;
// "loadtest compare" measures Kafki side by side with Apache Kafka.
// See package github.com/kafki/kafki/loadtest.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/kafki/kafki/loadtest"
	"github.com/kafki/kafki/loadtest/compare"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "compare" {
		os.Exit(compare.Main(ctx, args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(loadtest.Main(ctx, args, os.Stdout, os.Stderr))
}
