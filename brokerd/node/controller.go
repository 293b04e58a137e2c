package node

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kafki/kafki/brokerd/cluster"
	"github.com/kafki/kafki/brokerd/lease"
	"github.com/kafki/kafki/brokerd/meta"
)

// controller contends for the controller lease; while it holds it, it
// watches the brokers' session leases, fences brokers whose lease lapsed,
// elects partition leaders, places the replicas of new partitions and
// removes the state of deleted topics. Every write is conditional on the
// partition's version and fenced by the controller lease epoch.
type controller struct {
	n      *Node
	pokeCh chan struct{}

	// Observations of the brokers' session leases, made while leading
	// (step) and while standing by (standby), so that a broker that takes
	// the controller over can fence a broker that died with the old
	// controller without first watching it for a whole lease duration.
	obsMu    sync.Mutex
	liveness *cluster.Liveness      // guarded by obsMu
	seen     map[int32]lease.Record // last read session lease per broker; guarded by obsMu
	leading  atomic.Bool

	// State of the current holding; touched only by run's goroutine.
	snap   cluster.Snapshot
	stale  bool // snap must be re-read
	warned map[string]bool
}

func newController(n *Node) *controller {
	return &controller{n: n, pokeCh: make(chan struct{}, 1), liveness: cluster.NewLiveness(), seen: map[int32]lease.Record{}}
}

// observe reads the session lease of every unfenced broker in brokers and
// records the observations; it returns the brokers whose lease exists.
func (c *controller) observe(ctx context.Context, brokers []cluster.BrokerInfo) (map[int32]cluster.BrokerInfo, error) {
	var obs []cluster.Observation
	registered := map[int32]cluster.BrokerInfo{}
	recs := map[int32]lease.Record{}
	for _, b := range brokers {
		if b.Fenced {
			continue
		}
		rec, ok, err := c.n.store.Get(ctx, cluster.BrokerLease(b.ID))
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		registered[b.ID] = b
		recs[b.ID] = rec
		obs = append(obs, cluster.Observation{Broker: b.ID, RVN: rec.RVN, Duration: rec.Duration, Released: rec.Holder == ""})
	}
	c.obsMu.Lock()
	defer c.obsMu.Unlock()
	c.liveness.Observe(time.Now(), obs)
	c.seen = recs
	return registered, nil
}

// standby observes the brokers' leases while another broker is the
// controller, at half the controller's pace.
func (c *controller) standby(ctx context.Context) {
	t := time.NewTicker(max(c.n.cfg.SessionLease/2, 10*time.Millisecond))
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
		c.n.mu.Lock()
		brokers := c.n.snap.Brokers
		c.n.mu.Unlock()
		if _, err := c.observe(ctx, brokers); err != nil && ctx.Err() == nil {
			c.n.log.Debug("observe broker leases", "err", err)
		}
	}
}

// poke asks for a prompt step (a topic was created, say).
func (c *controller) poke() {
	select {
	case c.pokeCh <- struct{}{}:
	default:
	}
}

func (c *controller) run(ctx context.Context) {
	go c.standby(ctx)
	for ctx.Err() == nil {
		l, err := lease.New(lease.Config{Name: cluster.ControllerLease, Holder: c.n.holder, Duration: c.n.cfg.SessionLease, Store: c.n.store})
		if err != nil {
			c.n.log.Error("controller lease", "err", err)
			return
		}
		epoch, err := l.Acquire(ctx)
		if err != nil {
			if ctx.Err() == nil {
				c.n.log.Warn("contend for the controller lease", "err", err)
				c.pause(ctx)
			}
			continue
		}
		c.lead(ctx, l, epoch)
	}
}

func (c *controller) pause(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(retryPause):
	}
}

// lead runs the controller while l is held.
func (c *controller) lead(ctx context.Context, l *lease.Lease, epoch int64) {
	c.n.log.Info("this broker is the controller", "controller.epoch", epoch)
	c.stale, c.warned = true, map[string]bool{}
	c.leading.Store(true)
	defer c.leading.Store(false)
	renewCtx, stopRenew := context.WithCancel(ctx)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		l.Run(renewCtx, func(err error) { c.n.log.Warn("controller lease renewal failed", "err", err) })
	}()
	defer func() {
		stopRenew()
		<-renewed
		if ctx.Err() != nil {
			rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = l.Release(rctx)
			cancel()
		}
	}()
	if err := c.n.store.Announce(ctx, epoch); err != nil {
		c.n.log.Warn("announce controller", "err", err)
	}
	c.n.kick()
	t := time.NewTicker(max(c.n.cfg.SessionLease/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.Lost():
			c.n.log.Warn("controller lease lost")
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
			c.n.log.Warn("controller step", "err", err)
		}
	}
}

// step observes the brokers and makes every decision due.
func (c *controller) step(ctx context.Context, l *lease.Lease, epoch int64) error {
	store := c.n.store
	if !c.stale {
		v, err := store.MetadataVersion(ctx)
		if err != nil {
			return err
		}
		c.stale = v != c.snap.Version
	}
	if c.stale {
		snap, err := store.Read(ctx)
		if err != nil {
			return err
		}
		c.snap, c.stale = snap, false
	}

	// Observe every registered broker's session lease.
	registered, err := c.observe(ctx, c.snap.Brokers)
	if err != nil {
		return err
	}
	now := time.Now()
	c.obsMu.Lock()
	alive := map[int32]bool{}
	seen := map[int32]lease.Record{}
	for id := range registered {
		alive[id] = c.liveness.Alive(id, now)
		seen[id] = c.seen[id]
	}
	c.obsMu.Unlock()

	// Fence the brokers whose session lapsed: take their lease over (so a
	// paused broker that wakes up finds it lost), mark the registration,
	// and only after the elections below let them register again.
	var takeovers []*lease.Lease
	defer func() {
		for _, tl := range takeovers {
			rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = tl.Release(rctx)
			cancel()
		}
	}()
	sessions := map[int32]int64{}
	for id, b := range registered {
		if alive[id] {
			sessions[id] = b.SessionEpoch
			continue
		}
		rec := seen[id]
		if rec.Holder != "" {
			tl, err := lease.New(lease.Config{Name: cluster.BrokerLease(id), Holder: c.n.holder + "/fence", Duration: rec.Duration, Store: store})
			if err != nil {
				return err
			}
			ok, err := tl.TakeOver(ctx, rec)
			if err != nil {
				return err
			}
			if !ok {
				sessions[id] = b.SessionEpoch // it renewed after all
				continue
			}
			takeovers = append(takeovers, tl)
		}
		if !l.Valid() {
			return nil
		}
		if err := store.FenceBroker(ctx, epoch, id, b.SessionEpoch); err != nil && !errors.Is(err, lease.ErrConflict) {
			return err
		}
		c.n.log.Warn("broker session lapsed; fenced", "broker", id, "session.epoch", b.SessionEpoch)
		c.stale = true
	}
	live := func(id int32) bool { _, ok := sessions[id]; return ok }

	topicsByName := map[string]meta.Topic{}
	for _, t := range c.snap.Topics {
		topicsByName[t.Name] = t
	}
	wrote := false
	counts := map[string]int32{}
	remains := map[string]bool{} // deleted topics that still have partition states
	var elections, placements []cluster.PartitionWrite
	for _, st := range c.snap.Partitions {
		t, ok := topicsByName[st.Topic]
		if !ok || st.Partition >= t.Partitions {
			remains[st.Topic] = true
			if !l.Valid() {
				return nil
			}
			if err := store.DeletePartition(ctx, epoch, st.Topic, st.Partition, st.Version); err != nil {
				return err
			}
			wrote = true
			continue
		}
		counts[st.Topic]++
		next, changed := c.decide(st, live, sessions)
		if changed {
			elections = append(elections, cluster.PartitionWrite{Next: next, ExpectVersion: st.Version})
		}
	}
	// A deleted topic's tombstone goes once its partition states are gone.
	for _, name := range c.snap.Deleted {
		if remains[name] || !l.Valid() {
			continue
		}
		if err := store.DropTopic(ctx, epoch, name); err != nil {
			return err
		}
		wrote = true
	}
	if len(elections) > 0 {
		if !l.Valid() {
			return nil
		}
		if err := store.PutPartitions(ctx, epoch, elections); err != nil {
			return err
		}
		wrote = true
		for _, w := range elections {
			c.n.log.Info("partition leadership changed", "topic", w.Next.Topic, "partition", w.Next.Partition,
				"leader", w.Next.Leader, "leader.epoch", w.Next.LeaderEpoch, "isr", w.Next.ISR)
		}
	}

	// Place the replicas of new topics and partitions.
	var brokers []cluster.Broker
	for id := range sessions {
		brokers = append(brokers, cluster.Broker{ID: id, Rack: registered[id].Rack})
	}
	slices.SortFunc(brokers, func(a, b cluster.Broker) int { return int(a.ID - b.ID) })
	for _, t := range c.snap.Topics {
		have := counts[t.Name]
		if have >= t.Partitions {
			continue
		}
		rf := max(int(t.ReplicationFactor), 1)
		assign, err := cluster.Assign(brokers, have, t.Partitions-have, rf)
		if err != nil {
			if !c.warned[t.Name] {
				c.warned[t.Name] = true
				c.n.log.Warn("cannot place replicas yet", "topic", t.Name, "err", err)
			}
			continue
		}
		for i, replicas := range assign {
			st := cluster.PartitionState{Topic: t.Name, Partition: have + int32(i), Replicas: replicas,
				Leader: replicas[0], ISR: slices.Clone(replicas), LeaderSession: sessions[replicas[0]]}
			placements = append(placements, cluster.PartitionWrite{Next: st})
		}
		c.n.log.Info("placing replicas", "topic", t.Name, "partitions", t.Partitions-have, "replication.factor", rf)
	}
	if len(placements) > 0 {
		if !l.Valid() {
			return nil
		}
		if err := store.PutPartitions(ctx, epoch, placements); err != nil {
			return err
		}
		wrote = true
	}
	if wrote {
		c.stale = true
		c.n.kick()
	}
	return nil
}

// decide returns the partition's next state given the live brokers and
// their session epochs: a new leader when the leader is dead or its
// session is not the one it was elected under, and an ISR without dead
// brokers.
func (c *controller) decide(st cluster.PartitionState, live func(int32) bool, sessions map[int32]int64) (cluster.PartitionState, bool) {
	unclean := false
	if t := c.n.tm.Topic(st.Topic); t != nil {
		unclean = t.Settings().UncleanElection
	}
	next, changed := cluster.Elect(st, live, unclean)
	switch {
	case changed && next.Leader != cluster.NoLeader:
		next.LeaderSession = sessions[next.Leader]
	case changed:
		next.LeaderSession = 0
	case st.Leader != cluster.NoLeader && sessions[st.Leader] != st.LeaderSession:
		// The leader came back under a new session: elect it anew so the
		// earlier incarnation's leadership is never resumed.
		next.LeaderEpoch++
		next.LeaderSession = sessions[st.Leader]
		changed = true
	}
	if next.Leader != cluster.NoLeader {
		isr := slices.DeleteFunc(slices.Clone(next.ISR), func(m int32) bool { return m != next.Leader && !live(m) })
		if len(isr) != len(next.ISR) {
			next.ISR = isr
			changed = true
		}
	}
	return next, changed
}
