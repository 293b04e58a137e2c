// Package testbroker starts real in-process Kafki brokers for tests: the
// same broker.Start wiring as cmd/brokerd, on a free loopback port, with
// data under the test's temporary directory, stopped at test cleanup.
package testbroker

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/kafki/kafki/brokerd/broker"
	"github.com/kafki/kafki/brokerd/config"
)

// Option adjusts the broker configuration, or its components, before
// start.
type Option func(*settings)

type settings struct {
	cfg  config.Config
	opts []broker.Option
}

// WithConfig applies fn to the configuration.
func WithConfig(fn func(*config.Config)) Option { return func(s *settings) { fn(&s.cfg) } }

// WithDataDir uses dir instead of a fresh temporary directory, so a test
// can restart a broker on the same data.
func WithDataDir(dir string) Option { return func(s *settings) { s.cfg.DataDir = dir } }

// WithBroker passes broker options (a test authorizer, say) to
// broker.Start.
func WithBroker(opts ...broker.Option) Option {
	return func(s *settings) { s.opts = append(s.opts, opts...) }
}

// Config returns the configuration Start would use with opts.
func Config(t testing.TB, opts ...Option) config.Config {
	return build(t, opts).cfg
}

func build(t testing.TB, opts []Option) settings {
	var s settings
	s.cfg = config.Default()
	s.cfg.Listen = "127.0.0.1:0"
	s.cfg.MetricsListen = ""
	s.cfg.DataDir = t.TempDir()
	s.cfg.ShutdownTimeout = 5 * time.Second
	for _, o := range opts {
		o(&s)
	}
	return s
}

// Start starts a broker and returns its bootstrap address.
func Start(t testing.TB, opts ...Option) string {
	return StartBroker(t, opts...).Addr()
}

// StartBroker starts a broker and returns it; it is shut down at cleanup
// (Shutdown is idempotent, so a test may stop it earlier). Its log is
// discarded unless KAFKI_TEST_LOG is set.
func StartBroker(t testing.TB, opts ...Option) *broker.Broker {
	t.Helper()
	var w io.Writer = io.Discard
	if os.Getenv("KAFKI_TEST_LOG") != "" {
		w = os.Stderr
	}
	return StartBrokerLogging(t, w, opts...)
}

// StartBrokerLogging is StartBroker with the broker's log (text, debug
// level) written to w, for tests that check what the broker logs.
func StartBrokerLogging(t testing.TB, w io.Writer, opts ...Option) *broker.Broker {
	t.Helper()
	log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := build(t, opts)
	b, err := broker.Start(s.cfg, log, s.opts...)
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Errorf("broker shutdown: %v", err)
		}
	})
	return b
}
