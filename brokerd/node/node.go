package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/cluster"
	"github.com/kafki/kafki/brokerd/interbroker"
	"github.com/kafki/kafki/brokerd/lease"
	"github.com/kafki/kafki/brokerd/replication/follower"
	"github.com/kafki/kafki/brokerd/replication/isr"
	"github.com/kafki/kafki/brokerd/topics"
)

// retryPause is how long a failed metadata operation waits before the
// next attempt.
const retryPause = 200 * time.Millisecond

// RoleChange tells a coordinator about leadership of a partition of its
// internal topic (__consumer_offsets for groups, __transaction_state for
// transactions).
type RoleChange struct {
	Partition int32
	Leader    bool
	// Epoch is the partition's leader epoch while Leader: the transaction
	// coordinator's epoch, which partition leaders use to refuse markers
	// of a coordinator deposed since.
	Epoch int32
}

// Options are what a Node needs: its settings (package broker fills
// them from the broker's config, under the names in parentheses) and its
// dependencies.
type Options struct {
	// NodeID is this broker's id (node.id).
	NodeID int32
	// Addr is the host:port peers connect to: the advertised address of
	// the inter-broker listener.
	Addr string
	// Endpoints are the advertised addresses of every listener,
	// registered so that each client is answered with the addresses of
	// the listener it connected to; empty: Addr serves every listener.
	Endpoints []cluster.Endpoint
	// InterBrokerListener names the listener this broker connects to on
	// its peers (inter.broker.listener.name); a peer registered without
	// endpoints is reached at its Addr.
	InterBrokerListener string
	// Rack is this broker's rack or availability zone (broker.rack),
	// registered for replica placement.
	Rack string
	// SessionLease is the duration of the session lease, and of the
	// controller lease (session.lease).
	SessionLease time.Duration
	// MetadataPollInterval is how often the metadata version is read
	// (metadata.poll.interval).
	MetadataPollInterval time.Duration
	// ReplicaLagTimeMax: a follower not caught up for this long leaves
	// the ISR (replica.lag.time.max).
	ReplicaLagTimeMax time.Duration
	// ReplicaFetchWaitMax is the long-poll time of follower fetches
	// (replica.fetch.wait.max).
	ReplicaFetchWaitMax time.Duration
	// ReplicaFetchMaxBytes is the per-partition size of a follower fetch
	// (replica.fetch.max.bytes).
	ReplicaFetchMaxBytes int32
	// FlushOnAck: followers fsync what they copy before reporting it
	// (log.flush.on.ack).
	FlushOnAck bool
	// UncleanElection is the broker's default for topics that do not set
	// unclean.leader.election.enable, which the controller applies.
	UncleanElection bool

	Store  cluster.Store
	Topics *topics.Manager
	Log    *slog.Logger
	// Interbroker builds this broker's clients of its peers (replica
	// fetchers, shutdown checks).
	Interbroker *interbroker.Factory
	// OnOffsetsRoles, when set, is called (from one goroutine, in order)
	// when this broker starts or stops leading partitions of
	// __consumer_offsets.
	OnOffsetsRoles func([]RoleChange)
	// OnTxnRoles, when set, is called likewise for the partitions of
	// __transaction_state, and again when a led partition's leader epoch
	// changes (the coordinator epoch does with it).
	OnTxnRoles func([]RoleChange)
	// Counters count this broker's membership events; each is optional.
	Counters Counters
}

// Counters count the events of a broker's membership of the cluster
// (package metrics provides them).
type Counters struct {
	// SessionRenewFailures and ControllerRenewFailures count the failed
	// renewals of the session lease and of the controller lease.
	SessionRenewFailures, ControllerRenewFailures lease.Counter
	// Fenced counts the losses of the session lease: the controller
	// fenced this broker, which dropped every role.
	Fenced lease.Counter
	// ISRShrinks and ISRExpands count the ISR changes this broker
	// persisted as a leader (isr.Options).
	ISRShrinks, ISRExpands lease.Counter
}

// Node is this broker's membership of the cluster. Safe for concurrent
// use.
type Node struct {
	// Set by Start before it returns (most before any goroutine starts),
	// read-only after.
	o        Options // the settings are read from here
	self     int32
	addr     string
	store    cluster.Store
	tm       *topics.Manager
	log      *slog.Logger
	onOffs   func([]RoleChange)
	onTxn    func([]RoleChange)
	holder   string // unique per incarnation
	peers    *interbroker.Factory
	fetchers *follower.Fetchers // whom it follows changes under applyMu (and in Stop, after wg.Wait)
	isr      *isr.Keeper
	ctrl     *cluster.Controller
	cancel   context.CancelFunc
	refresh  chan struct{} // buffered(1): re-read the metadata now

	// Atomic, each on its own.
	session atomic.Pointer[lease.Lease]
	// sessionEpoch is the epoch of the session lease held now (0: none).
	sessionEpoch atomic.Int64
	// stopping: Stop released the session on purpose; do not re-register.
	stopping atomic.Bool

	// refreshMu serializes reading and applying snapshots (Start, the
	// watcher and Sync all refresh), so that they are applied in the
	// order they were read: a snapshot read before a change and applied
	// after it would undo the change here, deleting a topic that had
	// just appeared or granting a role already moved on.
	refreshMu sync.Mutex
	// applyMu serializes apply with dropAll: roles an apply grants under
	// the session it read must not survive a dropAll of that session.
	// It guards no field of Node: it is held wherever the partitions'
	// roles (topics.Partition.Become*) and the fetchers' assignments
	// change.
	applyMu sync.Mutex
	// offsMu makes computing and reporting leadership changes of
	// __consumer_offsets and __transaction_state one step, so they reach
	// onOffs and onTxn in order.
	offsMu     sync.Mutex
	offsetsLed map[int32]int32 // guarded by offsMu: led partition -> its leader epoch
	txnLed     map[int32]int32 // guarded by offsMu: likewise

	mu           sync.Mutex
	snap         cluster.Snapshot              // guarded by mu; the applied snapshot
	states       map[tp]cluster.PartitionState // guarded by mu
	controllerID int32                         // guarded by mu
	changed      chan struct{}                 // guarded by mu; closed at every applied snapshot

	wg sync.WaitGroup // the goroutines Start starts
}

type tp struct {
	topic string
	part  int32
}

// Start acquires this broker's session lease (waiting up to one lease
// duration if an earlier incarnation's lease is still recorded), registers
// the broker, applies the current metadata and starts the background
// work. It returns once the broker knows its roles.
func Start(ctx context.Context, o Options) (*Node, error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	n := &Node{
		o: o, self: o.NodeID, addr: o.Addr, store: o.Store, tm: o.Topics, log: o.Log,
		onOffs:     o.OnOffsetsRoles,
		onTxn:      o.OnTxnRoles,
		holder:     fmt.Sprintf("broker/%d/%s", o.NodeID, hex.EncodeToString(b[:])),
		refresh:    make(chan struct{}, 1),
		states:     map[tp]cluster.PartitionState{},
		changed:    make(chan struct{}),
		offsetsLed: map[int32]int32{},
		txnLed:     map[int32]int32{},
		peers:      o.Interbroker,
	}
	n.fetchers = follower.New(follower.Options{
		Self: n.self, SessionEpoch: n.sessionEpoch.Load, Topics: n.tm, Clients: n.peers,
		FetchMaxBytes: n.o.ReplicaFetchMaxBytes, FetchWaitMax: n.o.ReplicaFetchWaitMax,
		FlushOnAck: n.o.FlushOnAck, Log: n.log,
	})
	n.isr = isr.New(isr.Options{
		Self: n.self, Store: n.store, Membership: isrMembership{n}, Topics: n.tm,
		LagTimeMax: n.o.ReplicaLagTimeMax, WriteTimeout: n.o.SessionLease, Log: n.log,
		Shrinks: o.Counters.ISRShrinks, Expands: o.Counters.ISRExpands,
	})
	n.tm.SetReplicaHooks(topics.ReplicaHooks{CanAct: n.CanAct, ExpandISR: n.isr.Expand})
	l, err := n.acquireSession(ctx)
	if err != nil {
		return nil, err
	}
	if err := n.refreshNow(ctx); err != nil {
		_ = l.Release(context.Background())
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.ctrl = cluster.NewController(cluster.ControllerOptions{
		Log: n.log, Holder: n.holder, SessionLease: n.o.SessionLease,
		Leases: n.store, Store: n.store, UncleanDefault: n.o.UncleanElection,
		Kick: n.kick, Brokers: n.appliedBrokers, RenewFailures: n.o.Counters.ControllerRenewFailures,
	})
	n.wg.Add(4)
	go func() { defer n.wg.Done(); n.runSession(runCtx, l) }()
	go func() { defer n.wg.Done(); n.runWatcher(runCtx) }()
	go func() { defer n.wg.Done(); n.isr.Run(runCtx) }()
	go func() { defer n.wg.Done(); n.ctrl.Run(runCtx) }()
	return n, nil
}

// appliedBrokers returns the brokers of the applied snapshot, which the
// controller observes while it stands by.
func (n *Node) appliedBrokers() []cluster.BrokerInfo {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.snap.Brokers
}

// Stop is a controlled shutdown, as Kafka's: it releases the session
// lease, so this broker stops acknowledging at once and the controller
// (perhaps this broker itself) moves its leaderships without waiting a
// lease duration; it waits (within ctx and two lease durations) until the
// metadata shows it leads nothing, so clients are redirected while it
// still answers them; then it ends the background work.
func (n *Node) Stop(ctx context.Context) {
	n.stopping.Store(true)
	if l := n.session.Load(); l != nil {
		if err := l.Release(ctx); err != nil {
			n.log.Warn("release session lease", "err", err)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 2*n.o.SessionLease)
	var peers []cluster.BrokerInfo
	for wctx.Err() == nil {
		// Read the store itself: the applied view was just cleared.
		snap, err := n.store.Read(wctx)
		if err == nil && !leadsIn(snap, n.self) {
			peers = snap.Brokers
			break
		}
		n.ctrl.Poke()
		select {
		case <-wctx.Done():
		case <-time.After(n.o.MetadataPollInterval):
		}
	}
	// Keep answering (NOT_LEADER_OR_FOLLOWER, redirecting) until every
	// live peer has applied the handover, so that no client is sent to
	// this broker once it is gone.
	n.awaitPeersForget(wctx, peers)
	cancel()
	n.cancel()
	n.wg.Wait()
	n.fetchers.StopAll()
}

// awaitPeersForget asks each unfenced peer for its metadata until none
// lists this broker any more, or ctx ends.
func (n *Node) awaitPeersForget(ctx context.Context, peers []cluster.BrokerInfo) {
	for _, b := range peers {
		if b.ID == n.self || b.Fenced {
			continue
		}
		cl, err := n.peers.Peer(n.peerAddr(b))
		if err != nil {
			continue
		}
		for ctx.Err() == nil {
			r, err := cl.SeedBrokers()[0].Request(ctx, kmsg.NewPtrMetadataRequest())
			if err != nil {
				break // the peer is gone too: nothing to wait for
			}
			listed := false
			for _, mb := range r.(*kmsg.MetadataResponse).Brokers {
				listed = listed || mb.NodeID == n.self
			}
			if !listed {
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(n.o.MetadataPollInterval / 2):
			}
		}
		cl.Close()
	}
}

// leadsIn reports whether snap names broker id leader of any partition
// or lists it unfenced.
func leadsIn(snap cluster.Snapshot, id int32) bool {
	for _, st := range snap.Partitions {
		if st.Leader == id {
			return true
		}
	}
	for _, b := range snap.Brokers {
		if b.ID == id && !b.Fenced {
			return true
		}
	}
	return false
}

// Self is this broker's id.
func (n *Node) Self() int32 { return n.self }

// CanAct reports whether this broker may act as a leader now: its session
// lease is held and was renewed recently enough on its own clock.
func (n *Node) CanAct() bool {
	l := n.session.Load()
	return l != nil && l.Valid()
}

// acquireSession takes the session lease and registers under it.
func (n *Node) acquireSession(ctx context.Context) (*lease.Lease, error) {
	l, err := lease.New(lease.Config{
		Name: cluster.BrokerLease(n.self), Holder: n.holder, Duration: n.o.SessionLease,
		Store: n.store, RenewFailures: n.o.Counters.SessionRenewFailures,
	})
	if err != nil {
		return nil, err
	}
	started := time.Now()
	epoch, err := l.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("session lease of broker %d: %w", n.self, err)
	}
	for {
		err = n.store.Register(ctx, cluster.BrokerInfo{ID: n.self, Addr: n.addr, Endpoints: n.o.Endpoints, Rack: n.o.Rack, SessionEpoch: epoch})
		if err == nil {
			break
		}
		if errors.Is(err, lease.ErrConflict) || ctx.Err() != nil {
			return nil, fmt.Errorf("register broker %d: %w", n.self, err)
		}
		n.log.Warn("register broker; retrying", "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(retryPause):
		}
	}
	n.session.Store(l)
	n.sessionEpoch.Store(epoch)
	n.log.Info("broker registered", "node.id", n.self, "session.epoch", epoch, "waited", time.Since(started).Round(time.Millisecond))
	return l, nil
}

// runSession renews the session lease; when it is lost (the controller
// declared this broker dead), every role is dropped and the broker
// registers again under a new session epoch.
func (n *Node) runSession(ctx context.Context, l *lease.Lease) {
	for {
		l.Run(ctx, func(err error) { n.log.Warn("session lease renewal failed", "err", err) })
		if ctx.Err() != nil {
			return
		}
		n.sessionEpoch.Store(0)
		n.dropAll()
		if n.stopping.Load() {
			<-ctx.Done()
			return
		}
		n.log.Warn("session lease lost: the controller fenced this broker; dropping every role")
		if n.o.Counters.Fenced != nil {
			n.o.Counters.Fenced.Inc()
		}
		for {
			var err error
			l, err = n.acquireSession(ctx)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			n.log.Warn("re-register broker", "err", err)
		}
		n.kick()
	}
}

// dropAll makes every local partition serve nothing and stops every
// fetcher.
func (n *Node) dropAll() {
	n.applyMu.Lock()
	n.fetchers.StopAll()
	for _, t := range n.tm.Topics() {
		for _, p := range t.Partitions {
			_, leader, epoch := p.Role()
			p.BecomeNone(leader, epoch)
		}
	}
	n.mu.Lock()
	n.states = map[tp]cluster.PartitionState{}
	n.mu.Unlock()
	n.applyMu.Unlock()
	n.reportOffsets(true)
}

// kick asks the watcher for an immediate re-read.
func (n *Node) kick() {
	select {
	case n.refresh <- struct{}{}:
	default:
	}
}

func (n *Node) runWatcher(ctx context.Context) {
	t := time.NewTicker(n.o.MetadataPollInterval)
	defer t.Stop()
	for {
		force := false
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-n.refresh:
			force = true
		}
		if !force {
			v, err := n.store.MetadataVersion(ctx)
			if err != nil {
				if ctx.Err() == nil {
					n.log.Warn("read metadata version", "err", err)
				}
				continue
			}
			n.mu.Lock()
			same := v == n.snap.Version
			n.mu.Unlock()
			if same {
				continue
			}
		}
		if err := n.refreshNow(ctx); err != nil && ctx.Err() == nil {
			n.log.Warn("read metadata", "err", err)
		}
	}
}

// refreshNow reads the whole metadata and applies it.
func (n *Node) refreshNow(ctx context.Context) error { return n.refreshTo(ctx, 0) }

// refreshTo reads the whole metadata and applies it, unless what is
// applied already has version atLeast (> 0) once the refreshes before
// this one are done.
func (n *Node) refreshTo(ctx context.Context, atLeast int64) error {
	n.refreshMu.Lock()
	defer n.refreshMu.Unlock()
	if atLeast > 0 {
		n.mu.Lock()
		current := n.snap.Version >= atLeast
		n.mu.Unlock()
		if current {
			return nil
		}
	}
	gen := n.sessionEpoch.Load()
	// Topics this broker creates, deletes or alters itself from now on
	// may be missing from the snapshot: Apply leaves them alone.
	token := n.tm.ChangeToken()
	snap, err := n.store.Read(ctx)
	if err != nil {
		return err
	}
	ctrl := int32(-1)
	if rec, ok, err := n.store.Get(ctx, cluster.ControllerLease); err == nil && ok {
		ctrl = holderID(rec.Holder)
	}
	n.apply(ctx, snap, ctrl, gen, token)
	return nil
}

// holderID extracts the broker id from a lease holder "broker/<id>/<x>".
func holderID(holder string) int32 {
	parts := strings.Split(holder, "/")
	if len(parts) < 2 || parts[0] != "broker" {
		return -1
	}
	id, err := strconv.ParseInt(parts[1], 10, 32)
	if err != nil {
		return -1
	}
	return int32(id)
}

// apply installs a snapshot read while the session epoch was gen.
// applyRole gives local partition p the role st (found: ok) grants this
// broker under session current, the session the snapshot was read under
// being gen.
func (n *Node) applyRole(p *topics.Partition, st cluster.PartitionState, ok bool, current, gen int64, minInsync int32) {
	role, leader, epoch := p.Role()
	switch {
	case !ok:
		if role != topics.NoRole {
			p.BecomeNone(-1, 0)
		}
		n.fetchers.Remove(p)
	case st.Leader == n.self && st.LeaderSession == current && gen == current && current != 0:
		n.fetchers.Remove(p)
		p.BecomeLeader(n.self, st.LeaderEpoch, st.Replicas, st.ISR, st.Version, int(minInsync), n.o.ReplicaLagTimeMax)
	case st.Leader != n.self && st.Leader != cluster.NoLeader && slices.Contains(st.Replicas, n.self) && current != 0 && !n.stopping.Load():
		if role != topics.Follower || leader != st.Leader || epoch != st.LeaderEpoch {
			p.BecomeFollower(st.Leader, st.LeaderEpoch)
			n.fetchers.Add(p, st.Leader, st.LeaderEpoch)
		}
	default:
		if role != topics.NoRole || leader != st.Leader || epoch != st.LeaderEpoch {
			p.BecomeNone(st.Leader, st.LeaderEpoch)
		}
		n.fetchers.Remove(p)
	}
}

func (n *Node) apply(ctx context.Context, snap cluster.Snapshot, ctrl int32, gen int64, token uint64) {
	n.applyMu.Lock()
	n.tm.Apply(ctx, snap.Topics, token)
	states := make(map[tp]cluster.PartitionState, len(snap.Partitions))
	for _, st := range snap.Partitions {
		states[tp{st.Topic, st.Partition}] = st
	}
	current := n.sessionEpoch.Load()
	local := map[*topics.Partition]bool{}
	for _, t := range n.tm.Topics() {
		settings := t.Settings()
		for _, p := range t.Partitions {
			local[p] = true
			st, ok := states[tp{t.Name, p.Index}]
			n.applyRole(p, st, ok, current, gen, settings.MinInsync)
		}
	}
	// Stop following partitions of deleted topics (a topic re-created
	// under the same name has new partitions).
	n.fetchers.Retain(func(p *topics.Partition) bool { return local[p] })
	n.mu.Lock()
	n.snap = snap
	n.states = states
	n.controllerID = ctrl
	close(n.changed)
	n.changed = make(chan struct{})
	n.mu.Unlock()
	n.fetchers.SetBrokers(n.brokerAddrs(snap.Brokers))
	n.applyMu.Unlock()
	n.reportOffsets(false)
}

// brokerAddrs maps the brokers' ids to the addresses this broker
// reaches them at.
func (n *Node) brokerAddrs(brokers []cluster.BrokerInfo) map[int32]string {
	addrs := make(map[int32]string, len(brokers))
	for _, b := range brokers {
		addrs[b.ID] = n.peerAddr(b)
	}
	return addrs
}

// PeerAddr is where this broker reaches broker id (its inter-broker
// endpoint), if the applied metadata lists it unfenced.
func (n *Node) PeerAddr(id int32) (string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, b := range n.snap.Brokers {
		if b.ID == id && !b.Fenced {
			return n.peerAddr(b), true
		}
	}
	return "", false
}

// peerAddr is where this broker connects to peer b: b's endpoint on the
// inter-broker listener, or its Addr when it registered none of that
// name (an older registration, or a peer configured differently, which
// is then reached as before).
func (n *Node) peerAddr(b cluster.BrokerInfo) string {
	if n.o.InterBrokerListener != "" {
		if e, ok := b.Endpoint(n.o.InterBrokerListener); ok && len(b.Endpoints) > 0 {
			return e.Addr()
		}
	}
	return b.Addr
}

// reportOffsets tells the group and transaction coordinators which
// partitions of their topics this broker now leads. It compares the
// partitions' roles now with what it reported last, so a call that runs
// after a later apply or dropAll reports nothing stale.
func (n *Node) reportOffsets(dropAll bool) {
	n.offsMu.Lock()
	defer n.offsMu.Unlock()
	if n.onOffs != nil {
		// Groups care about leadership only, not its epoch.
		if changes := n.roleChanges(topics.OffsetsTopic, n.offsetsLed, dropAll, false); len(changes) > 0 {
			n.onOffs(changes)
		}
	}
	if n.onTxn != nil {
		if changes := n.roleChanges(topics.TxnStateTopic, n.txnLed, dropAll, true); len(changes) > 0 {
			n.onTxn(changes)
		}
	}
}

// roleChanges updates led (partition -> leader epoch) to the roles of the
// local partitions of topic and returns the differences; with epochs, a
// new leader epoch of a partition still led is a change too. Called with
// offsMu held.
func (n *Node) roleChanges(topic string, led map[int32]int32, dropAll, epochs bool) []RoleChange {
	var changes []RoleChange
	t := n.tm.Topic(topic)
	if t == nil {
		for idx := range led {
			changes = append(changes, RoleChange{Partition: idx})
			delete(led, idx)
		}
		return changes
	}
	for _, p := range t.Partitions {
		role, _, epoch := p.Role()
		lead := role == topics.Leader && !dropAll
		was, wasLed := led[p.Index]
		switch {
		case lead && (!wasLed || epochs && was != epoch):
			led[p.Index] = epoch
			changes = append(changes, RoleChange{Partition: p.Index, Leader: true, Epoch: epoch})
		case !lead && wasLed:
			delete(led, p.Index)
			changes = append(changes, RoleChange{Partition: p.Index})
		}
	}
	return changes
}

// registered reports whether broker id is registered and not fenced in
// the applied metadata.
func (n *Node) registered(id int32) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, b := range n.snap.Brokers {
		if b.ID == id {
			return !b.Fenced
		}
	}
	return false
}

// Sync brings the applied metadata up to date with the store now if it
// is behind (one read of the version item): read-your-writes across
// brokers, e.g. for a client that created a topic through one broker and
// asks another about it at once.
func (n *Node) Sync(ctx context.Context) error {
	v, err := n.store.MetadataVersion(ctx)
	if err != nil {
		return err
	}
	n.mu.Lock()
	current := n.snap.Version >= v
	n.mu.Unlock()
	if current {
		return nil
	}
	return n.refreshTo(ctx, v)
}

// Broker is a live broker as clients see it.
type Broker struct {
	ID   int32
	Addr string // the inter-broker address
	// Endpoints are its listeners' addresses (empty in an old
	// registration: Addr serves every listener); Endpoint picks one.
	Endpoints []cluster.Endpoint
	Rack      string
}

// Endpoint is the broker's address on listener (cluster.EndpointFor).
func (b Broker) Endpoint(listener string) (cluster.Endpoint, bool) {
	return cluster.EndpointFor(b.Endpoints, b.Addr, listener)
}

// Brokers returns the registered, unfenced brokers, sorted by id.
func (n *Node) Brokers() []Broker {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []Broker
	for _, b := range n.snap.Brokers {
		if !b.Fenced {
			out = append(out, Broker{ID: b.ID, Addr: b.Addr, Endpoints: b.Endpoints, Rack: b.Rack})
		}
	}
	return out
}

// ControllerID is the broker holding the controller lease, -1 if unknown.
func (n *Node) ControllerID() int32 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.controllerID
}

// PartitionState returns the last read state of a partition.
func (n *Node) PartitionState(topic string, p int32) (cluster.PartitionState, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	st, ok := n.states[tp{topic, p}]
	return st, ok
}

// Changed returns a channel closed when the next snapshot is applied.
func (n *Node) Changed() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.changed
}

// WaitPartitions waits until every partition of topic below count has a
// leader in the applied metadata (CreateTopics answers then, so clients
// can produce at once), or ctx ends. It asks for prompt re-reads.
func (n *Node) WaitPartitions(ctx context.Context, topic string, count int32) error {
	return n.awaitStates(ctx, func(states map[tp]cluster.PartitionState) bool {
		for i := int32(0); i < count; i++ {
			if st, ok := states[tp{topic, i}]; !ok || st.Leader == cluster.NoLeader {
				return false
			}
		}
		return true
	})
}

// WaitTopicGone waits until the applied metadata no longer lists any
// partition of topic.
func (n *Node) WaitTopicGone(ctx context.Context, topic string) error {
	return n.awaitStates(ctx, func(states map[tp]cluster.PartitionState) bool {
		for k := range states {
			if k.topic == topic {
				return false
			}
		}
		return true
	})
}

// awaitStates waits until done holds for the applied partition states
// (called under n.mu), nudging the controller and the watcher so the
// change the caller waits for is made and seen promptly.
func (n *Node) awaitStates(ctx context.Context, done func(map[tp]cluster.PartitionState) bool) error {
	for {
		ch := n.Changed()
		n.mu.Lock()
		ok := done(n.states)
		n.mu.Unlock()
		if ok {
			return nil
		}
		n.ctrl.Poke()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		case <-time.After(n.o.MetadataPollInterval):
			n.kick()
		}
	}
}

// LiveBrokers is the number of registered, unfenced brokers.
func (n *Node) LiveBrokers() int { return len(n.Brokers()) }
