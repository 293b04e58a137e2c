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
	"net/http/pprof"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/kafki/kafki/brokerd/acl"
	"github.com/kafki/kafki/brokerd/auth"
	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/groups"
	"github.com/kafki/kafki/brokerd/interbroker"
	"github.com/kafki/kafki/brokerd/meta"
	"github.com/kafki/kafki/brokerd/metastore"
	"github.com/kafki/kafki/brokerd/metrics"
	"github.com/kafki/kafki/brokerd/node"
	"github.com/kafki/kafki/brokerd/sasl"
	"github.com/kafki/kafki/brokerd/server"
	"github.com/kafki/kafki/brokerd/topics"
	"github.com/kafki/kafki/tiering"
)

// maintenanceInterval bounds the period of log maintenance.
const maintenanceInterval = 5 * time.Second

// Broker is a running broker.
type Broker struct {
	cfg     config.Config
	log     *slog.Logger
	store   meta.Store
	topics  *topics.Manager
	groups  *groups.Coordinator
	txn     *txnService // nil in a cluster (see txn.go)
	server  *server.Server
	metrics *metrics.Metrics
	tier    *tiering.Tier    // nil when tiering is off
	cstore  *metastore.Store // nil on a single node
	node    *node.Node       // nil on a single node

	lns []*boundListener // the Kafka listeners, in configured order (listeners.go)
	// adv is the advertised address of the first PLAINTEXT listener,
	// which in-process clients (the trigger runner) use; "" without one.
	adv       string
	metricsLn net.Listener
	httpSrv   *http.Server

	cancel   context.CancelFunc
	wg       sync.WaitGroup
	serveErr chan error

	stopTriggers func() // nil unless --triggers.enable; stops the runner before the listener

	acls *acl.Authorizer // nil unless authorizer.class.name (acl.go)

	stopOnce sync.Once
	stopErr  error

	// SASL (issue 12): sasl.go.
	interBroker *sasl.Secret // sasl.inter.broker.secret.file; nil without one
}

// Option adds a component to the broker that the configuration does not
// describe.
type Option func(*options)

type options struct {
	authorizer auth.Authorizer
}

// WithAuthorizer makes a decide every request's actions instead of the
// default, which allows everything.
func WithAuthorizer(a auth.Authorizer) Option { return func(o *options) { o.authorizer = a } }

// Start opens the data directory, recovers every log and starts serving.
// It returns once the listener is bound, so Addr is usable at once.
func Start(cfg config.Config, log *slog.Logger, opts ...Option) (*Broker, error) {
	var o options
	for _, fn := range opts {
		fn(&o)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	openCtx, cancelOpen := context.WithTimeout(context.Background(), time.Minute)
	defer cancelOpen()
	m := metrics.New()
	// Every component opened below pushes its undo; an error return runs
	// them in reverse, so no path leaks an open log, a listener or a
	// held lease.
	var undo cleanup
	defer undo.run()
	store, cstore, err := openMetaStore(openCtx, &cfg, m)
	if err != nil {
		return nil, fmt.Errorf("metadata store: %w", err)
	}
	undo.push(func() { store.Close() })
	b := &Broker{cfg: cfg, log: log, store: store, cstore: cstore, metrics: m, serveErr: make(chan error, 2)}
	tier, err := openTier(context.Background(), &b.cfg, cstore)
	if err != nil {
		return nil, err
	}
	b.tier = tier
	undo.push(b.closeTier)
	started := time.Now()
	topts := topics.OptionsFrom(&b.cfg, log)
	topts.Tier, topts.OnAppend = tier, b.metrics.Produced
	tm, err := topics.Open(context.Background(), topts, store)
	if err != nil {
		return nil, err
	}
	b.topics = tm
	undo.push(func() { tm.Close() })
	b.metrics.RegisterPartitions(b.partitionStats)
	log.Info("logs recovered", "topics", len(tm.Topics()), "took", time.Since(started).Round(time.Millisecond))

	gc, err := b.openGroups(tm)
	if err != nil {
		return nil, err
	}
	b.groups = gc
	undo.push(gc.Shutdown)
	if !cfg.Clustered() {
		// Transactions (issue 17): single node only so far (txn.go).
		b.txn = newTxnService(tm, gc, cfg.TransactionStatePartitions, cfg.TransactionMaxTimeout, cfg.FlushOnAck, log.With("component", "txn"))
		undo.push(b.txn.c.Close)
		if tm.Topic(topics.TxnStateTopic) != nil {
			if err := b.txn.Ensure(); err != nil {
				return nil, fmt.Errorf("load transactions: %w", err)
			}
		}
	}

	// Bind first: the cluster registration needs the advertised
	// addresses, and the server needs the cluster membership.
	ib, sec, err := b.openListeners(&undo)
	if err != nil {
		return nil, err
	}
	lns, adv := b.lns, b.lns[0].adv
	var cl server.Cluster // nil on a single node
	if cstore != nil {
		// Join the cluster before serving: the session lease (which may
		// take one lease duration when a previous incarnation's is still
		// recorded), the registration, and this broker's roles.
		o := nodeOptions(&b.cfg)
		o.Addr, o.Endpoints, o.InterBrokerListener = ib.adv, endpoints(lns), ib.cfg.Name
		ibo, err := interbrokerOptions(&b.cfg, ib, sec)
		if err != nil {
			return nil, err
		}
		o.Interbroker = interbroker.New(ibo)
		o.Store, o.Topics = cstore, tm
		o.Log, o.OnOffsetsRoles = log.With("component", "cluster"), b.offsetsRoles
		o.Counters = node.Counters{
			SessionRenewFailures: m.SessionRenewalFailures, ControllerRenewFailures: m.ControllerRenewalFailures,
			Fenced: m.BrokerFenced, ISRShrinks: m.ISRShrinks, ISRExpands: m.ISRExpands,
		}
		n, err := node.Start(openCtx, o)
		if err != nil {
			return nil, fmt.Errorf("join the cluster: %w", err)
		}
		b.node = n
		m.RegisterCluster(func() metrics.ClusterStat {
			h := n.Health()
			return metrics.ClusterStat{UnderReplicated: h.UnderReplicated, UnderMinISR: h.UnderMinISR, ActiveController: h.ActiveController, Offline: h.Offline}
		})
		undo.push(func() {
			sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
			defer cancel()
			n.Stop(sctx)
		})
		cl = n
	}
	// Kafka ACLs (acl.go), unless the caller brought its own authorizer.
	if o.authorizer == nil {
		if b.acls, err = b.openAuthorizer(openCtx); err != nil {
			return nil, err
		}
		if b.acls != nil {
			o.authorizer = b.acls
		}
	}
	sopts := b.serverOptions(adv, cl, o.authorizer)
	// SASL (issue 12): sasl.go.
	if sopts.SASL, sopts.Users, err = b.openSASL(openCtx); err != nil {
		return nil, err
	}
	srv, err := server.New(sopts)
	if err != nil {
		return nil, err
	}
	b.server = srv
	if cfg.MetricsListen != "" {
		mln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			return nil, fmt.Errorf("metrics listen on %s: %w", cfg.MetricsListen, err)
		}
		b.metricsLn = mln
		mux := http.NewServeMux()
		mux.Handle("/metrics", b.metrics.Handler())
		// Profiles for operators (pprof), on the metrics listener, which
		// binds to loopback by default.
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		if err := b.mountTriggerAdmin(mux); err != nil {
			return nil, err
		}
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
	b.wg.Add(3)
	go func() { defer b.wg.Done(); tm.Run(ctx, interval) }()
	if tier != nil {
		b.wg.Add(1)
		go func() { defer b.wg.Done(); tm.RunTiering(ctx, cfg.TierSweepInterval) }()
	}
	go func() { defer b.wg.Done(); gc.Run(ctx, groupTick(&cfg), cfg.OffsetsRetentionCheckInterval) }()
	if b.txn != nil {
		b.wg.Add(1)
		go func() { defer b.wg.Done(); b.txn.run(ctx, cfg.TransactionAbortInterval) }()
	}
	b.runACLs(ctx)
	b.runUsers(ctx, sopts.Users) // SASL (issue 12): sasl.go
	// --- Log compaction (issue 16): see cleaner.go. ---
	b.startCleaner(ctx)
	// --- end of log compaction. ---
	b.wg.Add(len(lns) - 1)
	b.serveListeners()
	if cfg.TriggersEnable {
		if err := b.startTriggers(ctx); err != nil {
			cancel()
			b.server.Shutdown(context.Background())
			return nil, err
		}
	}
	log.Info("broker started", "listen", b.Addr(), "listeners", listenersSummary(lns), "node.id", cfg.NodeID, "data.dir", cfg.DataDir, "metrics", b.MetricsAddr())
	undo.release()
	return b, nil
}

// serverOptions are the protocol server's settings, taken from the
// configuration, and its components.
func (b *Broker) serverOptions(adv string, cl server.Cluster, a auth.Authorizer) server.Options {
	cfg := &b.cfg
	o := server.Options{
		NodeID: cfg.NodeID, ClusterID: cfg.ClusterID, AdvertisedAddr: adv,
		AutoCreateTopics: cfg.AutoCreateTopics, DefaultReplicationFactor: cfg.DefaultReplicationFactor,
		MaxRequestBytes: cfg.MaxRequestBytes, FlushOnAck: cfg.FlushOnAck, DataDir: cfg.DataDir,
		RackAwareReads: cfg.RackAwareReads(),
		TopicConfigs: func(overrides map[string]string) []topics.ConfigEntry {
			return topics.EffectiveConfigs(cfg, overrides)
		},
		BrokerConfigs: cfg.KafkaConfigs(),
		Topics:        b.topics, Groups: b.groups, Cluster: cl, Authorizer: a,
		Metrics: b.metrics, Log: b.log,
	}
	if b.txn != nil {
		o.Txn = b.txn
	}
	return o
}

// advertisedAddr is the address clients are told to connect to: the
// configured one, or else the bound one, with an unspecified host
// (0.0.0.0, ::) replaced by localhost.
func advertisedAddr(configured string, bound net.Addr) string {
	if configured != "" {
		return configured
	}
	adv := bound.String()
	if ap, err := netip.ParseAddrPort(adv); err == nil && ap.Addr().IsUnspecified() {
		adv = net.JoinHostPort("localhost", strconv.Itoa(int(ap.Port())))
	}
	return adv
}

// cleanup is a stack of undo steps for a constructor's error paths.
type cleanup []func()

func (c *cleanup) push(f func()) { *c = append(*c, f) }

// run undoes everything pushed, newest first, unless released.
func (c *cleanup) run() {
	for i := len(*c) - 1; i >= 0; i-- {
		(*c)[i]()
	}
	*c = nil
}

// release keeps what was pushed: the constructor succeeded.
func (c *cleanup) release() { *c = nil }

// offsetsTopicConfigs keep group state until the coordinator deletes it
// itself (see package groups: snapshots bound the topic's size).
var offsetsTopicConfigs = map[string]string{"retention.ms": "-1", "retention.bytes": "-1", "segment.bytes": "104857600"}

// openGroups builds the group coordinator. On a single node, when
// __consumer_offsets exists its state is rebuilt now; otherwise the topic is
// created, as in Kafka, when a client first looks for a group coordinator.
// In a cluster each partition's groups are loaded when this broker becomes
// its leader (offsetsRoles).
func (b *Broker) openGroups(tm *topics.Manager) (*groups.Coordinator, error) {
	cfg, log := &b.cfg, b.log
	open := func() ([]groups.Log, error) {
		t, err := tm.EnsureInternalTopic(context.Background(), topics.OffsetsTopic, cfg.OffsetsTopicPartitions, b.offsetsRF(), offsetsTopicConfigs)
		if err != nil {
			return nil, err
		}
		logs := make([]groups.Log, len(t.Partitions))
		for i, p := range t.Partitions {
			logs[i] = groups.PartitionLog(p, cfg.FlushOnAck)
		}
		return logs, nil
	}
	gcfg := groups.DefaultConfig()
	gcfg.MinSessionTimeout, gcfg.MaxSessionTimeout = cfg.GroupMinSessionTimeout, cfg.GroupMaxSessionTimeout
	gcfg.InitialRebalanceDelay = cfg.GroupInitialRebalanceDelay
	gcfg.MaxSize, gcfg.MaxMetadataBytes = cfg.GroupMaxSize, cfg.OffsetMetadataMaxBytes
	gcfg.OffsetsRetention = cfg.OffsetsRetention
	gcfg.Clustered = cfg.Clustered()
	gc := groups.New(gcfg, open, groups.ManagerTopics(tm), groups.SystemClock{}, log.With("component", "groups"))
	if tm.Topic(topics.OffsetsTopic) == nil || cfg.Clustered() {
		return gc, nil
	}
	started := time.Now()
	st, err := gc.Load()
	if err != nil {
		return nil, fmt.Errorf("load consumer groups: %w", err)
	}
	log.Info("consumer groups loaded", "groups", st.Groups, "offsets", st.Offsets, "records", st.RecordsRead, "took", time.Since(started).Round(time.Millisecond))
	return gc, nil
}

// offsetsRF is the replication factor __consumer_offsets is created with:
// offsets.topic.replication.factor, at most the live brokers.
func (b *Broker) offsetsRF() int16 {
	if b.node == nil {
		return 1
	}
	return int16(min(int(b.cfg.OffsetsTopicReplicationFactor), max(b.node.LiveBrokers(), 1)))
}

// offsetsRoles moves group coordination with the leadership of the
// partitions of __consumer_offsets.
func (b *Broker) offsetsRoles(changes []node.RoleChange) {
	for _, c := range changes {
		b.groups.SetLeadership(c.Partition, c.Leader)
	}
}

// groupTick is how often group deadlines are checked: often enough that a
// session timeout is acted on within a few percent of it.
func groupTick(cfg *config.Config) time.Duration {
	return min(max(cfg.GroupMinSessionTimeout/20, 10*time.Millisecond), 100*time.Millisecond)
}

// Groups exposes the group coordinator (tests and tools).
func (b *Broker) Groups() *groups.Coordinator { return b.groups }

// Addr is the bound address of the first Kafka listener (the one
// listener of the listen shorthand).
func (b *Broker) Addr() string { return b.lns[0].ln.Addr().String() }

// MetricsAddr is the bound metrics address, or "" when disabled.
func (b *Broker) MetricsAddr() string {
	if b.metricsLn == nil {
		return ""
	}
	return b.metricsLn.Addr().String()
}

// Metrics exposes the broker's metrics (tests and tools).
func (b *Broker) Metrics() *metrics.Metrics { return b.metrics }

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
	if b.stopTriggers != nil {
		// While the broker still answers, so the runner commits and
		// leaves its groups.
		b.stopTriggers()
	}
	if b.node != nil {
		// Controlled shutdown: hand every leadership over while still
		// answering, so clients are redirected instead of failing.
		b.node.Stop(ctx)
	}
	b.server.Shutdown(ctx)
	if b.httpSrv != nil {
		b.httpSrv.Shutdown(ctx)
	}
	b.cancel()
	b.wg.Wait()
	if b.txn != nil {
		b.txn.c.Close()
	}
	b.groups.Shutdown()
	err := b.topics.Close()
	b.closeTier()
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
			role, _, _ := p.Role()
			out = append(out, metrics.PartitionStat{
				Topic: t.Name, Partition: p.Index,
				LogStartOffset: l.LogStartOffset(), LogEndOffset: l.LogEndOffset(), HighWatermark: p.HighWatermark(),
				SizeBytes: l.Size(), Segments: l.NumSegments(), Offline: l.Offline() != nil,
				TierLagBytes: p.TierLagBytes(), Role: role.String(),
			})
		}
	}
	return out
}
