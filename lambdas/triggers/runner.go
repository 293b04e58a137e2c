package triggers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Options configure a Runner.
type Options struct {
	// Store holds the trigger definitions (required).
	Store Store
	// Brokers are the cluster's bootstrap servers (required); they are
	// also the payload's bootstrapServers.
	Brokers []string
	// Lambda invokes functions (required; *lambda.Client).
	Lambda Invoker
	// S3 stores failure records for s3:// destinations (optional).
	S3 ObjectPutter
	// ESM, when set, also runs the self-managed Kafka event source
	// mappings it lists for this cluster (see ESMSource).
	ESM *ESMSource
	// Registerer receives the metrics (nil: not registered).
	Registerer prometheus.Registerer
	Log        *slog.Logger
	// Instance names this runner in trigger statuses (default host:pid).
	Instance string
	// PollInterval is how often definitions are re-read (default 2s).
	PollInterval time.Duration
	// Backoff between retries (default 100ms doubling to 30s).
	Backoff Backoff
	// SessionTimeout of the consumer groups (default 10s): how long a
	// dead runner's partitions wait before another runner takes them.
	SessionTimeout time.Duration
	// ClientOpts are added to every trigger's Kafka client: TLS and the
	// SASL login (Security.ClientOpts).
	ClientOpts []kgo.Opt
}

// Runner runs every enabled trigger of a Store. It is a pure Kafka client:
// it reaches the cluster only through the Kafka protocol and the Store.
type Runner struct {
	store          Store
	brokers        []string
	bootstrap      string
	lambda         Invoker
	s3             ObjectPutter
	esm            *ESMSource
	metrics        *Metrics
	log            *slog.Logger
	instance       string
	poll           time.Duration
	backoff        Backoff
	sessionTimeout time.Duration
	clientOpts     []kgo.Opt
}

// New checks opts and returns a runner.
func New(opts Options) (*Runner, error) {
	if opts.Store == nil || len(opts.Brokers) == 0 || opts.Lambda == nil {
		return nil, errors.New("triggers: Store, Brokers and Lambda are required")
	}
	r := &Runner{
		store: opts.Store, brokers: opts.Brokers, bootstrap: strings.Join(opts.Brokers, ","),
		lambda: opts.Lambda, s3: opts.S3, esm: opts.ESM, metrics: newMetrics(opts.Registerer),
		log: opts.Log, instance: opts.Instance, poll: opts.PollInterval, backoff: opts.Backoff,
		sessionTimeout: opts.SessionTimeout, clientOpts: opts.ClientOpts,
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.instance == "" {
		h, _ := os.Hostname()
		r.instance = fmt.Sprintf("%s:%d", h, os.Getpid())
	}
	if r.poll <= 0 {
		r.poll = 2 * time.Second
	}
	if r.backoff.Base <= 0 {
		r.backoff = Backoff{Base: 100 * time.Millisecond, Max: 30 * time.Second}
	}
	if r.sessionTimeout <= 0 {
		r.sessionTimeout = 10 * time.Second
	}
	return r, nil
}

// Metrics exposes the runner's metrics (tests, benchmarks).
func (r *Runner) Metrics() *Metrics { return r.metrics }

// Run runs the triggers until ctx ends: it reads the definitions every
// PollInterval, starts enabled triggers, restarts changed ones, stops
// disabled or deleted ones, and merges this runner's entry into each
// trigger's status (see Status) when it changed or is due for a refresh;
// on the way out its entries say stopped. A store that cannot be read
// keeps the running triggers as they are.
func (r *Runner) Run(ctx context.Context) error {
	running := map[string]*triggerConsumer{}
	defer func() {
		for _, tc := range running {
			tc.stop()
			r.reportStopped(tc)
		}
	}()
	t := time.NewTicker(r.poll)
	defer t.Stop()
	for {
		r.reconcile(ctx, running)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (r *Runner) reconcile(ctx context.Context, running map[string]*triggerConsumer) {
	defs, err := List(ctx, r.store)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("read trigger definitions", "err", err)
		}
		return
	}
	if r.esm != nil {
		mapped, err := r.esm.Triggers(ctx)
		if err != nil {
			r.log.Warn("list event source mappings", "err", err)
		}
		defs = append(defs, mapped...)
	}
	want := map[string]Trigger{}
	for _, d := range defs {
		if d.Enabled {
			want[d.ID] = d
		} else if d.Source != SourceESM {
			now := time.Now().UTC()
			r.reportStatus(ctx, d.ID, d.Status, InstanceStatus{Instance: r.instance, State: StateDisabled, UpdatedAt: now, ExpiresAt: now.Add(r.statusTTL())})
		}
	}
	for id, tc := range running {
		if d, ok := want[id]; !ok || d.Version != tc.version {
			tc.stop()
			delete(running, id)
			if ok {
				r.log.Info("trigger changed; restarting", "trigger", id)
			} else {
				r.log.Info("trigger stopped", "trigger", id)
			}
		}
	}
	for id, d := range want {
		tc := running[id]
		if tc == nil {
			if tc, err = startConsumer(ctx, r, d); err != nil {
				r.log.Warn("start trigger", "trigger", id, "err", err)
				continue
			}
			running[id] = tc
			r.log.Info("trigger started", "trigger", id, "function", d.Function, "topics", d.Topics, "group", d.Group())
		}
		if d.Source != SourceESM {
			r.reportStatus(ctx, id, d.Status, tc.instanceStatus(time.Now().UTC()))
		}
	}
}

// statusTTL is how long this runner's entry in a trigger's status stays
// valid without a refresh: six poll intervals, of which a refresh (every
// two) may miss two before the entry expires.
func (r *Runner) statusTTL() time.Duration { return 6 * r.poll }

// reportStatus merges mine into cur, the trigger's status as this poll
// read it, and writes it when the stored entry is missing (never written,
// or dropped by another runner's concurrent write), says something else,
// or is due for its refresh.
func (r *Runner) reportStatus(ctx context.Context, id string, cur Status, mine InstanceStatus) {
	if e, ok := cur.Instance(mine.Instance); ok && e.sameReport(mine) && mine.UpdatedAt.Sub(e.UpdatedAt) < 2*r.poll {
		return
	}
	r.putStatus(ctx, id, MergeStatus(cur, mine, mine.UpdatedAt))
}

// reportStopped records that this runner no longer runs tc (stopped with
// the runner): the trigger's state stays that of the other instances.
func (r *Runner) reportStopped(tc *triggerConsumer) {
	if tc.def.Source == SourceESM {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cur, err := Get(ctx, r.store, tc.def.ID)
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			r.log.Warn("read trigger status", "trigger", tc.def.ID, "err", err)
		}
		return
	}
	now := time.Now().UTC()
	mine := tc.instanceStatus(now)
	mine.State, mine.Partitions = StateStopped, 0
	r.putStatus(ctx, tc.def.ID, MergeStatus(cur.Status, mine, now))
}

func (r *Runner) putStatus(ctx context.Context, id string, s Status) {
	b, _ := json.Marshal(s)
	if err := r.store.PutTriggerStatus(ctx, id, b); err != nil && !errors.Is(err, ErrNotFound) && ctx.Err() == nil {
		r.log.Warn("write trigger status", "trigger", id, "err", err)
	}
}
