// Package broker assembles one Kafki broker from its parts: the metadata
// store, the topic manager (and so the partition logs), the Kafka protocol
// server, log maintenance and the metrics endpoint. cmd/brokerd and the
// test harness both start brokers through it, so tests run the same wiring
// as production.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/meta"
	"github.com/kafki/kafki/brokerd/metrics"
	"github.com/kafki/kafki/brokerd/server"
	"github.com/kafki/kafki/brokerd/topics"
)

// maintenanceInterval bounds the period of log maintenance.
const maintenanceInterval = 5 * time.Second

// Broker is a running broker.
type Broker struct {
	cfg     config.Config
	log     *slog.Logger
	store   meta.Store
	topics  *topics.Manager
	server  *server.Server
	metrics *metrics.Metrics

	ln        net.Listener
	metricsLn net.Listener
	httpSrv   *http.Server

	cancel   context.CancelFunc
	wg       sync.WaitGroup
	serveErr chan error

	stopOnce sync.Once
	stopErr  error
}

// Start opens the data directory, recovers every log and starts serving.
// It returns once the listener is bound, so Addr is usable at once.
func Start(cfg config.Config, log *slog.Logger) (*Broker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	store, err := meta.OpenEmbedded(filepath.Join(cfg.DataDir, "__meta"))
	if err != nil {
		return nil, fmt.Errorf("metadata store: %w", err)
	}
	b := &Broker{cfg: cfg, log: log, store: store, metrics: metrics.New(), serveErr: make(chan error, 2)}
	started := time.Now()
	tm, err := topics.Open(context.Background(), &b.cfg, store, log)
	if err != nil {
		store.Close()
		return nil, err
	}
	b.topics = tm
	tm.SetAppendHook(b.metrics.Produced)
	b.metrics.RegisterPartitions(b.partitionStats)
	log.Info("logs recovered", "topics", len(tm.Topics()), "took", time.Since(started).Round(time.Millisecond))

	b.server = server.New(&b.cfg, tm, b.metrics, log)
	ln, err := b.server.Listen()
	if err != nil {
		tm.Close()
		store.Close()
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	b.ln = ln
	if cfg.MetricsListen != "" {
		mln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			ln.Close()
			tm.Close()
			store.Close()
			return nil, fmt.Errorf("metrics listen on %s: %w", cfg.MetricsListen, err)
		}
		b.metricsLn = mln
		mux := http.NewServeMux()
		mux.Handle("/metrics", b.metrics.Handler())
		b.httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			if err := b.httpSrv.Serve(mln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				b.serveErr <- fmt.Errorf("metrics server: %w", err)
			}
		}()
	}

	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	// Maintenance also finishes rolled segments (their fsync, indexes and
	// producer snapshot happen outside the append path), so it runs at
	// least every few seconds whatever the retention check interval.
	interval := min(cfg.RetentionCheckInterval, maintenanceInterval)
	if cfg.FlushIntervalMs > 0 && cfg.FlushIntervalMs < interval {
		interval = cfg.FlushIntervalMs
	}
	b.wg.Add(2)
	go func() { defer b.wg.Done(); tm.Run(ctx, interval) }()
	go func() {
		defer b.wg.Done()
		if err := b.server.Serve(ln); err != nil {
			b.serveErr <- fmt.Errorf("kafka listener: %w", err)
		}
	}()
	log.Info("broker started", "listen", ln.Addr().String(), "node.id", cfg.NodeID, "data.dir", cfg.DataDir, "metrics", b.MetricsAddr())
	return b, nil
}

// Addr is the bound Kafka listener address.
func (b *Broker) Addr() string { return b.ln.Addr().String() }

// MetricsAddr is the bound metrics address, or "" when disabled.
func (b *Broker) MetricsAddr() string {
	if b.metricsLn == nil {
		return ""
	}
	return b.metricsLn.Addr().String()
}

// Topics exposes the topic manager (tests and tools).
func (b *Broker) Topics() *topics.Manager { return b.topics }

// Err delivers a fatal serving error, if one happens.
func (b *Broker) Err() <-chan error { return b.serveErr }

// Shutdown stops accepting connections, finishes in-flight requests (up to
// ctx), then flushes and closes every log.
// It is safe to call more than once; later calls return the first result.
func (b *Broker) Shutdown(ctx context.Context) error {
	b.stopOnce.Do(func() { b.stopErr = b.shutdown(ctx) })
	return b.stopErr
}

func (b *Broker) shutdown(ctx context.Context) error {
	b.server.Shutdown(ctx)
	if b.httpSrv != nil {
		b.httpSrv.Shutdown(ctx)
	}
	b.cancel()
	b.wg.Wait()
	err := b.topics.Close()
	if cerr := b.store.Close(); err == nil {
		err = cerr
	}
	b.log.Info("broker stopped")
	return err
}

func (b *Broker) partitionStats() []metrics.PartitionStat {
	var out []metrics.PartitionStat
	for _, t := range b.topics.Topics() {
		for _, p := range t.Partitions {
			l := p.Log()
			out = append(out, metrics.PartitionStat{
				Topic: t.Name, Partition: p.Index,
				LogStartOffset: l.LogStartOffset(), LogEndOffset: l.LogEndOffset(), HighWatermark: p.HighWatermark(),
				SizeBytes: l.Size(), Segments: l.NumSegments(), Offline: l.Offline() != nil,
			})
		}
	}
	return out
}
