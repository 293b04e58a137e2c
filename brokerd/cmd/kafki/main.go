// Command kafki is Kafki's console tool for topics, producing and
// consuming; see package github.com/kafki/kafki/brokerd/cli.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/kafki/kafki/brokerd/cli"
)

func main() {
	// SIGINT/SIGTERM cancel the context so a consumer stops cleanly and
	// commits instead of dying mid-write.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
