package isr

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/kafki/kafki/brokerd/cluster"
	"github.com/kafki/kafki/brokerd/lease"
	"github.com/kafki/kafki/brokerd/topics"
)

// queueLen bounds the expansions waiting to be persisted.
const queueLen = 1024

// Options are what a Keeper needs.
type Options struct {
	// Self is this broker's id.
	Self int32
	// Store persists ISR changes (cluster.Store's PutISR).
	Store Store
	// Membership is this broker's view of the cluster (package node).
	Membership Membership
	// Topics lists the local topics (*topics.Manager).
	Topics Topics
	// LagTimeMax is replica.lag.time.max: a follower not caught up for
	// this long leaves the ISR. Laggards are looked for four times per
	// period (at most every 20ms).
	LagTimeMax time.Duration
	// WriteTimeout bounds one ISR write (node gives session.lease).
	WriteTimeout time.Duration
	// Log receives the ISR changes and failures to persist them.
	Log *slog.Logger
	// Shrinks and Expands, when set, count the ISR changes persisted:
	// one per change, however many followers it removes or adds (Kafka's
	// IsrShrinksPerSec and IsrExpandsPerSec). A change not written (a
	// conflict, a lost lease) is not counted.
	Shrinks, Expands Counter
}

// Counter counts events; a prometheus.Counter is one.
type Counter interface{ Inc() }

// Store is the ISR write of the cluster's store.
type Store interface {
	// PutISR writes an ISR change made by the partition's leader
	// (next.Leader) under its session lease at sessionEpoch, conditional
	// on the version read (expectVersion). An error wrapping
	// lease.ErrConflict means the partition or the lease moved on.
	PutISR(ctx context.Context, sessionEpoch int64, next cluster.PartitionState, expectVersion int64) error
}

// Membership is what the Keeper reads of this broker's membership of the
// cluster, and what it tells back; package node implements it.
type Membership interface {
	// SessionEpoch is the epoch of the session lease held now (0: none).
	SessionEpoch() int64
	// CanAct reports whether the session lease is valid now on this
	// broker's clock (lease rule 4): no ISR write is made otherwise.
	CanAct() bool
	// Registered reports whether broker id is registered and not fenced
	// in the applied metadata.
	Registered(id int32) bool
	// PartitionState returns the applied state of a partition.
	PartitionState(topic string, p int32) (cluster.PartitionState, bool)
	// Persisted reports that next replaced version prev of its partition
	// in the store, so the applied state can take it before the next
	// metadata read.
	Persisted(next cluster.PartitionState, prev int64)
	// Refresh asks for the metadata to be read again soon: an ISR write
	// found the partition changed by someone else.
	Refresh()
}

// Topics lists the local topics; *topics.Manager implements it.
type Topics interface {
	Topics() []*topics.Topic
}

// request asks the ISR loop to persist a follower's return to the ISR.
type request struct {
	p        *topics.Partition
	epoch    int32
	follower int32
}

// Keeper persists the ISR changes of the partitions this broker leads.
// Its fields are set by New and read-only after (queue is a channel,
// safe by itself); Expand is safe for concurrent use, Run runs once.
type Keeper struct {
	o     Options
	queue chan request // buffered(queueLen): expansions to persist
}

// New returns a Keeper; call Run to start it.
func New(o Options) *Keeper {
	return &Keeper{o: o, queue: make(chan request, queueLen)}
}

// Expand is the partitions' ExpandISR hook (topics.ReplicaHooks): the
// follower caught up. It is counted for the high watermark at once
// (maximal ISR, see the package doc) and persisted by Run. It does not
// block.
func (k *Keeper) Expand(p *topics.Partition, epoch, follower int32) {
	isr, e, ok := p.ISR()
	if !ok || e != epoch || slices.Contains(isr, follower) || !k.o.Membership.Registered(follower) {
		// A fenced broker (stopping, or declared dead) may still fetch
		// for a moment; it must not count for acks=all (Kafka checks the
		// broker epoch for the same reason, KIP-903).
		return
	}
	p.CountInSync(epoch, follower)
	select {
	case k.queue <- request{p: p, epoch: epoch, follower: follower}:
	default:
		// Full: the follower is counted in memory; it is asked for
		// again after the next applied snapshot puts the persisted ISR
		// back (see the package doc).
	}
}

// Run shrinks the ISR of led partitions whose followers lag and
// persists expansions, until ctx ends.
func (k *Keeper) Run(ctx context.Context) {
	every := max(k.o.LagTimeMax/4, 20*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-k.queue:
			k.persist(ctx, r.p, r.epoch, func(st cluster.PartitionState) (cluster.PartitionState, error) {
				return cluster.ExpandISR(st, k.o.Self, r.epoch, r.follower)
			})
		case now := <-t.C:
			k.shrink(ctx, now)
		}
	}
}

// shrink persists, for each led partition with followers that fell
// behind by now, their removal from the ISR.
func (k *Keeper) shrink(ctx context.Context, now time.Time) {
	for _, tp := range k.o.Topics.Topics() {
		for _, p := range tp.Partitions {
			lag, epoch := p.Laggards(now)
			if len(lag) == 0 {
				continue
			}
			k.o.Log.Info("followers fell behind; shrinking the ISR", "topic", p.Topic, "partition", p.Index, "lagging", lag)
			k.persist(ctx, p, epoch, func(st cluster.PartitionState) (cluster.PartitionState, error) {
				return cluster.ShrinkISR(st, k.o.Self, epoch, lag)
			})
		}
	}
}

// persist writes change(current state) under this broker's session
// lease, then applies the persisted ISR to the partition.
func (k *Keeper) persist(ctx context.Context, p *topics.Partition, epoch int32, change func(cluster.PartitionState) (cluster.PartitionState, error)) {
	m := k.o.Membership
	st, ok := m.PartitionState(p.Topic, p.Index)
	session := m.SessionEpoch()
	if !ok || st.Leader != k.o.Self || st.LeaderEpoch != epoch || session == 0 || !m.CanAct() {
		return
	}
	next, err := change(st)
	if err != nil {
		k.o.Log.Warn("ISR change refused", "topic", p.Topic, "partition", p.Index, "err", err)
		return
	}
	if slices.Equal(next.ISR, st.ISR) {
		p.ApplyISR(epoch, next.ISR, st.Version)
		return
	}
	wctx, cancel := context.WithTimeout(ctx, k.o.WriteTimeout)
	defer cancel()
	if err := k.o.Store.PutISR(wctx, session, next, st.Version); err != nil {
		if errors.Is(err, lease.ErrConflict) {
			m.Refresh() // someone else wrote the partition: re-read and retry later
		} else if ctx.Err() == nil {
			k.o.Log.Warn("persist ISR change", "topic", p.Topic, "partition", p.Index, "err", err)
		}
		return
	}
	next.Version = st.Version + 1
	m.Persisted(next, st.Version)
	p.ApplyISR(epoch, next.ISR, next.Version)
	k.count(len(next.ISR) - len(st.ISR))
	k.o.Log.Info("ISR changed", "topic", p.Topic, "partition", p.Index, "isr", next.ISR, "leader.epoch", epoch)
}

// count counts a persisted change of the ISR's size by delta.
func (k *Keeper) count(delta int) {
	switch {
	case delta < 0 && k.o.Shrinks != nil:
		k.o.Shrinks.Inc()
	case delta > 0 && k.o.Expands != nil:
		k.o.Expands.Inc()
	}
}
