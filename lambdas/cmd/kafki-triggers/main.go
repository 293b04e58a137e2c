// Command kafki-triggers runs Kafki's Lambda triggers outside a broker:
// every enabled trigger of the cluster's metadata store (read through a
// broker's admin endpoint) becomes a consumer group that invokes its
// function with AWS's self-managed Kafka event. Run several for
// availability: they split each trigger's partitions through the group
// protocol. brokerd --triggers.enable runs the same runner in-process.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kafki/kafki/lambdas/triggers"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kafki-triggers:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) > 0 && args[0] == "grant" {
		return runGrant(args[1:])
	}
	fs := flag.NewFlagSet("kafki-triggers", flag.ContinueOnError)
	bootstrap := fs.String("bootstrap-server", envOr("KAFKI_BOOTSTRAP_SERVER", "localhost:9092"), "Kafka bootstrap servers, comma-separated")
	admin := fs.String("admin", os.Getenv("KAFKI_ADMIN"), "broker admin endpoint holding the trigger definitions (default http://<first bootstrap host>:9644)")
	metricsListen := fs.String("metrics.listen", "", "host:port serving Prometheus /metrics (empty: off)")
	poll := fs.Duration("poll.interval", 2*time.Second, "how often the definitions are re-read")
	session := fs.Duration("session.timeout", 10*time.Second, "consumer group session timeout: how soon another runner takes a dead one's partitions")
	retryBase := fs.Duration("retry.base", 100*time.Millisecond, "first retry backoff (doubles, with jitter)")
	retryMax := fs.Duration("retry.max", 30*time.Second, "longest retry backoff")
	esm := fs.Bool("esm", false, "also run the Lambda API's self-managed Kafka event source mappings that name these bootstrap servers")
	instance := fs.String("instance", "", "this runner's name in trigger statuses (default host:pid)")
	declare := fs.String("declare", "", `JSON file {"triggers": [definition, ...]}: create those that do not exist yet, then run (a deployment's declared triggers)`)
	level := fs.String("log.level", "info", "debug, info, warn or error")
	sec := securityFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("log.level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))
	clientOpts, err := sec.ClientOpts()
	if err != nil {
		return err
	}
	brokers := strings.Split(*bootstrap, ",")
	if *admin == "" {
		host, _, err := net.SplitHostPort(brokers[0])
		if err != nil {
			return fmt.Errorf("bootstrap-server %q: %w", brokers[0], err)
		}
		*admin = "http://" + net.JoinHostPort(host, "9644")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	lc, s3c, err := triggers.AWSClients(ctx)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	opts := triggers.Options{
		Store: &triggers.Client{Base: *admin}, Brokers: brokers, Lambda: lc, S3: s3c,
		Registerer: reg, Log: log, Instance: *instance, PollInterval: *poll,
		Backoff: triggers.Backoff{Base: *retryBase, Max: *retryMax}, SessionTimeout: *session,
		ClientOpts: clientOpts,
	}
	if *esm {
		opts.ESM = &triggers.ESMSource{Client: lc, Brokers: brokers}
	}
	r, err := triggers.New(opts)
	if err != nil {
		return err
	}
	if *metricsListen != "" {
		ln, err := net.Listen("tcp", *metricsListen)
		if err != nil {
			return fmt.Errorf("metrics.listen: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics server", "err", err)
			}
		}()
		defer srv.Close()
	}
	if *declare != "" {
		if err := declareFrom(ctx, opts.Store, *declare, log); err != nil {
			return err
		}
	}
	log.Info("kafki-triggers started", "bootstrap", *bootstrap, "admin", *admin, "security.protocol", sec.Protocol)
	return r.Run(ctx)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// declareFrom creates the triggers declared in path that the store lacks,
// waiting for the broker's admin endpoint, which a runner started beside
// its broker may reach before the broker serves it.
func declareFrom(ctx context.Context, store triggers.Store, path string, log *slog.Logger) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("declare: %w", err)
	}
	for delay := time.Second; ; delay = min(2*delay, 30*time.Second) {
		created, err := triggers.Declare(ctx, store, raw)
		if err == nil {
			log.Info("declared triggers", "file", path, "created", created)
			return nil
		}
		if errors.Is(err, triggers.ErrInvalid) {
			return fmt.Errorf("declare %s: %w", path, err)
		}
		log.Warn("declaring triggers; retrying", "file", path, "err", err, "in", delay)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
}
