// Command brokerd runs a Kafki broker. See brokerd --help for its settings;
// each is also an environment variable.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/kafki/kafki/brokerd/broker"
	"github.com/kafki/kafki/brokerd/config"
)

func main() { os.Exit(run()) }

func run() int {
	cfg, err := config.Load(os.Args[1:], os.Getenv, os.Stdout)
	if errors.Is(err, config.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "brokerd: %v\n", err)
		return 2
	}
	log := newLogger(cfg)
	if cfg.MemoryLimit > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(cfg.MemoryLimit)
	}
	// Catch signals before starting: the listener is bound before the
	// broker has joined its cluster, and a SIGTERM in between must still
	// be a clean shutdown (it is acted on once Start returns).
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	b, err := broker.Start(cfg, log)
	if err != nil {
		fmt.Fprintf(os.Stderr, "brokerd: %v\n", err)
		return 1
	}
	code := 0
	select {
	case s := <-sigs:
		log.Info("shutting down", "signal", s.String())
	case err := <-b.Err():
		log.Error("fatal", "err", err)
		code = 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		log.Error("shutdown", "err", err)
		return 1
	}
	return code
}

func newLogger(cfg config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}
