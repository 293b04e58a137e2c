// Command kafki-perf is Kafki's end-to-end produce/consume throughput
// benchmark (make bench-e2e); see package
// github.com/kafki/kafki/brokerd/perf and kafki-perf --help.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/kafki/kafki/brokerd/perf"
)

func main() {
	// SIGINT/SIGTERM cancel the run so a spawned broker is still stopped
	// and its temporary data directory removed.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := perf.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
