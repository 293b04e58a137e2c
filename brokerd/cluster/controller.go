package cluster

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kafki/kafki/brokerd/lease"
)

// ControllerStore is the metadata the controller reads and writes. Every
// write method is fenced by the controller lease at controllerEpoch and,
// for partitions, conditional on the version read (ExpectVersion 0: the
// state must not exist); a failed condition is lease.ErrConflict. It is
// the controller's part of Store (metastore.Store implements both).
type ControllerStore interface {
	// MetadataVersion is the counter every metadata write bumps.
	MetadataVersion(ctx context.Context) (int64, error)
	// Read returns a consistent snapshot of the whole metadata.
	Read(ctx context.Context) (Snapshot, error)
	// Announce bumps the metadata version, so brokers re-read.
	Announce(ctx context.Context, controllerEpoch int64) error
	// FenceBroker marks broker id fenced if it is still registered under
	// sessionEpoch.
	FenceBroker(ctx context.Context, controllerEpoch int64, id int32, sessionEpoch int64) error
	// DeletePartition removes a partition's state.
	DeletePartition(ctx context.Context, controllerEpoch int64, topic string, p int32, expectVersion int64) error
	// DropTopic removes a deleted topic's tombstone once its partition
	// states are gone.
	DropTopic(ctx context.Context, controllerEpoch int64, topic string) error
	// PutPartitions writes partition states.
	PutPartitions(ctx context.Context, controllerEpoch int64, writes []PartitionWrite) error
}

// ControllerOptions are what a Controller needs; all are required unless
// marked otherwise.
type ControllerOptions struct {
	Log *slog.Logger // default slog.Default()
	// Holder is this broker incarnation's unique lease holder id.
	Holder string
	// SessionLease is the duration of the controller lease and of the
	// brokers' session leases; it paces the controller (a step every
	// quarter, an observation while standing by every half).
	SessionLease time.Duration
	Leases       lease.Store // the controller lease and the brokers' session leases
	Store        ControllerStore
	// UncleanDefault is the broker-wide unclean.leader.election.enable.
	UncleanDefault bool
	// Kick is called after the controller wrote metadata, so the local
	// broker re-reads it at once. Optional.
	Kick func()
	// Brokers returns the brokers of the local broker's applied snapshot;
	// while another broker is the controller, this one observes their
	// session leases so that it can fence a broker that died with the old
	// controller without first watching it for a whole lease duration.
	Brokers func() []BrokerInfo
	// Now is the clock the brokers' liveness is judged on; default
	// time.Now (its monotonic reading).
	Now func() time.Time
	// RenewFailures counts the controller lease's failed renewals
	// (lease.Config.RenewFailures). Optional.
	RenewFailures lease.Counter
}

// controllerRetryPause is how long the controller waits after failing to
// contend for its lease.
const controllerRetryPause = 200 * time.Millisecond

// Controller contends for the controller lease; while it holds it, it
// watches the brokers' session leases, fences brokers whose lease lapsed,
// elects partition leaders, places the replicas of new partitions and
// removes the state of deleted topics. The decisions are Decide's; the
// controller only reads, observes and writes.
type Controller struct {
	o      ControllerOptions
	pokeCh chan struct{}

	// Observations of the brokers' session leases, made while leading
	// (step) and while standing by (standby).
	obsMu    sync.Mutex
	liveness *Liveness // guarded by obsMu
	leading  atomic.Bool

	// State of the current holding; touched only by Run's goroutine.
	snap   Snapshot
	stale  bool // snap must be re-read
	warned map[string]bool
}

// NewController returns a controller; Run starts it.
func NewController(o ControllerOptions) *Controller {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Kick == nil {
		o.Kick = func() {}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Controller{o: o, pokeCh: make(chan struct{}, 1), liveness: NewLiveness()}
}

// Active reports whether this controller holds the controller lease and
// leads (Kafka's ActiveControllerCount): from the lease's acquisition
// until it is lost, released or Run ends.
func (c *Controller) Active() bool { return c.leading.Load() }

// Poke asks for a prompt step (a topic was created, say).
func (c *Controller) Poke() {
	select {
	case c.pokeCh <- struct{}{}:
	default:
	}
}

// Run contends for the controller lease and leads while it holds it,
// until ctx is done; it releases the lease on its way out.
func (c *Controller) Run(ctx context.Context) {
	go c.standby(ctx)
	for ctx.Err() == nil {
		l, err := lease.New(lease.Config{Name: ControllerLease, Holder: c.o.Holder, Duration: c.o.SessionLease, Store: c.o.Leases,
			RenewFailures: c.o.RenewFailures})
		if err != nil {
			c.o.Log.Error("controller lease", "err", err)
			return
		}
		epoch, err := l.Acquire(ctx)
		if err != nil {
			if ctx.Err() == nil {
				c.o.Log.Warn("contend for the controller lease", "err", err)
				c.pause(ctx)
			}
			continue
		}
		c.lead(ctx, l, epoch)
	}
}

func (c *Controller) pause(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(controllerRetryPause):
	}
}

// observe reads the session lease of every unfenced broker in brokers and
// records the observations; it returns the records of the brokers whose
// lease exists.
func (c *Controller) observe(ctx context.Context, brokers []BrokerInfo) (map[int32]lease.Record, error) {
	var obs []Observation
	recs := map[int32]lease.Record{}
	for _, b := range brokers {
		if b.Fenced {
			continue
		}
		rec, ok, err := c.o.Leases.Get(ctx, BrokerLease(b.ID))
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		recs[b.ID] = rec
		obs = append(obs, Observation{Broker: b.ID, RVN: rec.RVN, Duration: rec.Duration, Released: rec.Holder == ""})
	}
	c.obsMu.Lock()
	defer c.obsMu.Unlock()
	c.liveness.Observe(c.o.Now(), obs)
	return recs, nil
}

// sessions evaluates the observed leases as of now.
func (c *Controller) sessions(recs map[int32]lease.Record, now time.Time) map[int32]Session {
	c.obsMu.Lock()
	defer c.obsMu.Unlock()
	out := make(map[int32]Session, len(recs))
	for id, rec := range recs {
		out[id] = Session{Lease: rec, Alive: c.liveness.Alive(id, now)}
	}
	return out
}

// standby observes the brokers' leases while another broker is the
// controller, at half the controller's pace.
func (c *Controller) standby(ctx context.Context) {
	t := time.NewTicker(max(c.o.SessionLease/2, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if c.leading.Load() {
			continue
		}
		if _, err := c.observe(ctx, c.o.Brokers()); err != nil && ctx.Err() == nil {
			c.o.Log.Debug("observe broker leases", "err", err)
		}
	}
}

// lead runs the controller while l is held.
func (c *Controller) lead(ctx context.Context, l *lease.Lease, epoch int64) {
	c.o.Log.Info("this broker is the controller", "controller.epoch", epoch)
	c.stale, c.warned = true, map[string]bool{}
	c.leading.Store(true)
	defer c.leading.Store(false)
	renewCtx, stopRenew := context.WithCancel(ctx)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		l.Run(renewCtx, func(err error) { c.o.Log.Warn("controller lease renewal failed", "err", err) })
	}()
	defer func() {
		stopRenew()
		<-renewed
		if ctx.Err() != nil {
			release(l)
		}
	}()
	if err := c.o.Store.Announce(ctx, epoch); err != nil {
		c.o.Log.Warn("announce controller", "err", err)
	}
	c.o.Kick()
	t := time.NewTicker(max(c.o.SessionLease/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.Lost():
			c.o.Log.Warn("controller lease lost")
			return
		case <-t.C:
		case <-c.pokeCh:
			c.stale = true
		}
		if !l.Valid() {
			continue // renewals failing: act on nothing until they succeed
		}
		if err := c.step(ctx, l, epoch); err != nil && ctx.Err() == nil {
			if errors.Is(err, lease.ErrConflict) {
				c.stale = true
				continue
			}
			c.o.Log.Warn("controller step", "err", err)
		}
	}
}

// release gives l up, even when the caller's context is done.
func release(l *lease.Lease) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = l.Release(ctx)
}

// step reads the metadata and the brokers' leases, lets Decide plan, and
// makes the plan's writes.
func (c *Controller) step(ctx context.Context, l *lease.Lease, epoch int64) error {
	if err := c.refresh(ctx); err != nil {
		return err
	}
	recs, err := c.observe(ctx, c.snap.Brokers)
	if err != nil {
		return err
	}
	v := View{Snapshot: c.snap, Sessions: c.sessions(recs, c.o.Now()), UncleanDefault: c.o.UncleanDefault}
	plan := Decide(v)
	// Keep the lapsed brokers' leases until the elections are written, so
	// that they cannot register again before.
	takeovers, renewed, err := c.fence(ctx, l, epoch, plan.Fence)
	defer func() {
		for _, tl := range takeovers {
			release(tl)
		}
	}()
	if err != nil {
		return err
	}
	if len(renewed) > 0 {
		// They renewed after all: alive. The new plan fences a subset of
		// the brokers just fenced, which is done.
		for _, id := range renewed {
			s := v.Sessions[id]
			s.Alive = true
			v.Sessions[id] = s
		}
		plan = Decide(v)
	}
	c.warn(plan.Warnings)
	return c.write(ctx, l, epoch, plan)
}

// refresh re-reads the snapshot if it is stale or the metadata moved.
func (c *Controller) refresh(ctx context.Context) error {
	if !c.stale {
		v, err := c.o.Store.MetadataVersion(ctx)
		if err != nil {
			return err
		}
		c.stale = v != c.snap.Version
	}
	if !c.stale {
		return nil
	}
	snap, err := c.o.Store.Read(ctx)
	if err != nil {
		return err
	}
	c.snap, c.stale = snap, false
	return nil
}

// fence fences the lapsed brokers: it takes each one's session lease over
// (so a paused broker that wakes up finds it lost) and marks its
// registration. It returns the leases taken over, for the caller to
// release once its elections are written, and the brokers whose take-over
// failed because they renewed. It stops early, returning no error, when
// the controller lease is no longer valid.
func (c *Controller) fence(ctx context.Context, l *lease.Lease, epoch int64, fences []Fencing) (takeovers []*lease.Lease, renewed []int32, err error) {
	for _, f := range fences {
		id := f.Broker.ID
		if f.Lease.Holder != "" {
			tl, err := lease.New(lease.Config{Name: BrokerLease(id), Holder: c.o.Holder + "/fence", Duration: f.Lease.Duration, Store: c.o.Leases})
			if err != nil {
				return takeovers, renewed, err
			}
			ok, err := tl.TakeOver(ctx, f.Lease)
			if err != nil {
				return takeovers, renewed, err
			}
			if !ok {
				renewed = append(renewed, id)
				continue
			}
			takeovers = append(takeovers, tl)
		}
		if !l.Valid() {
			return takeovers, renewed, nil
		}
		if err := c.o.Store.FenceBroker(ctx, epoch, id, f.Broker.SessionEpoch); err != nil && !errors.Is(err, lease.ErrConflict) {
			return takeovers, renewed, err
		}
		c.o.Log.Warn("broker session lapsed; fenced", "broker", id, "session.epoch", f.Broker.SessionEpoch)
		c.stale = true
	}
	return takeovers, renewed, nil
}

// warn logs each warning once per holding of the controller lease.
func (c *Controller) warn(ws []Warning) {
	for _, w := range ws {
		key := w.Topic + "\x00" + w.Err.Error()
		if !c.warned[key] {
			c.warned[key] = true
			c.o.Log.Warn("controller cannot decide yet", "topic", w.Topic, "err", w.Err)
		}
	}
}

// write makes the plan's partition writes, checking before each request
// that the controller lease is still valid (if not, it stops and returns
// nil: the next holder decides again).
func (c *Controller) write(ctx context.Context, l *lease.Lease, epoch int64, plan Plan) error {
	wrote := false
	for _, st := range plan.Delete {
		if !l.Valid() {
			return nil
		}
		if err := c.o.Store.DeletePartition(ctx, epoch, st.Topic, st.Partition, st.Version); err != nil {
			return err
		}
		wrote = true
	}
	for _, name := range plan.Drop {
		if !l.Valid() {
			return nil
		}
		if err := c.o.Store.DropTopic(ctx, epoch, name); err != nil {
			return err
		}
		wrote = true
	}
	if len(plan.Elect) > 0 {
		if !l.Valid() {
			return nil
		}
		if err := c.o.Store.PutPartitions(ctx, epoch, plan.Elect); err != nil {
			return err
		}
		wrote = true
		for _, w := range plan.Elect {
			c.o.Log.Info("partition leadership changed", "topic", w.Next.Topic, "partition", w.Next.Partition,
				"leader", w.Next.Leader, "leader.epoch", w.Next.LeaderEpoch, "isr", w.Next.ISR)
		}
	}
	if len(plan.Place) > 0 {
		if !l.Valid() {
			return nil
		}
		logPlacements(c.o.Log, plan.Place)
		if err := c.o.Store.PutPartitions(ctx, epoch, plan.Place); err != nil {
			return err
		}
		wrote = true
	}
	if wrote {
		c.stale = true
		c.o.Kick()
	}
	return nil
}

// logPlacements logs one line per topic of ws (which Decide groups by
// topic).
func logPlacements(log *slog.Logger, ws []PartitionWrite) {
	for i := 0; i < len(ws); {
		j := i + 1
		for j < len(ws) && ws[j].Next.Topic == ws[i].Next.Topic {
			j++
		}
		log.Info("placing replicas", "topic", ws[i].Next.Topic, "partitions", j-i, "replication.factor", len(ws[i].Next.Replicas))
		i = j
	}
}
