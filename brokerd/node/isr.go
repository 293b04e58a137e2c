package node

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/kafki/kafki/brokerd/cluster"
	"github.com/kafki/kafki/brokerd/lease"
	"github.com/kafki/kafki/brokerd/topics"
)

// isrRequest asks the ISR loop to persist a follower's return to the ISR.
type isrRequest struct {
	p        *topics.Partition
	epoch    int32
	follower int32
}

// requestExpand is the partitions' ExpandISR hook: the follower caught up.
// It is counted for the high watermark at once (maximal ISR, see the
// package doc) and persisted by the ISR loop.
func (n *Node) requestExpand(p *topics.Partition, epoch, follower int32) {
	isr, e, ok := p.ISR()
	if !ok || e != epoch || slices.Contains(isr, follower) || !n.registered(follower) {
		// A fenced broker (stopping, or declared dead) may still fetch
		// for a moment; it must not count for acks=all (Kafka checks the
		// broker epoch for the same reason, KIP-903).
		return
	}
	p.ApplyISR(epoch, append(isr, follower))
	select {
	case n.isrQueue <- isrRequest{p: p, epoch: epoch, follower: follower}:
	default:
		// Full: the follower is counted in memory; its next fetch asks
		// again once the queue drains.
	}
}

// runISR shrinks the ISR of led partitions whose followers lag and
// persists expansions.
func (n *Node) runISR(ctx context.Context) {
	every := max(n.cfg.ReplicaLagTimeMax/4, 20*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-n.isrQueue:
			n.persistISR(ctx, r.p, r.epoch, func(st cluster.PartitionState) (cluster.PartitionState, error) {
				return cluster.ExpandISR(st, n.self, r.epoch, r.follower)
			})
		case now := <-t.C:
			for _, tp := range n.tm.Topics() {
				for _, p := range tp.Partitions {
					lag, epoch := p.Laggards(now)
					if len(lag) == 0 {
						continue
					}
					n.log.Info("followers fell behind; shrinking the ISR", "topic", p.Topic, "partition", p.Index, "lagging", lag)
					n.persistISR(ctx, p, epoch, func(st cluster.PartitionState) (cluster.PartitionState, error) {
						return cluster.ShrinkISR(st, n.self, epoch, lag)
					})
				}
			}
		}
	}
}

// persistISR writes change(current state) under this broker's session
// lease, then applies the persisted ISR to the partition.
func (n *Node) persistISR(ctx context.Context, p *topics.Partition, epoch int32, change func(cluster.PartitionState) (cluster.PartitionState, error)) {
	st, ok := n.PartitionState(p.Topic, p.Index)
	session := n.sessionEpoch.Load()
	if !ok || st.Leader != n.self || st.LeaderEpoch != epoch || session == 0 || !n.CanAct() {
		return
	}
	next, err := change(st)
	if err != nil {
		n.log.Warn("ISR change refused", "topic", p.Topic, "partition", p.Index, "err", err)
		return
	}
	if slices.Equal(next.ISR, st.ISR) {
		p.ApplyISR(epoch, next.ISR)
		return
	}
	wctx, cancel := context.WithTimeout(ctx, n.cfg.SessionLease)
	defer cancel()
	if err := n.store.PutISR(wctx, session, next, st.Version); err != nil {
		if errors.Is(err, lease.ErrConflict) {
			n.kick() // someone else wrote the partition: re-read and retry later
		} else if ctx.Err() == nil {
			n.log.Warn("persist ISR change", "topic", p.Topic, "partition", p.Index, "err", err)
		}
		return
	}
	next.Version = st.Version + 1
	n.mu.Lock()
	if cur, ok := n.states[tp{p.Topic, p.Index}]; ok && cur.Version == st.Version {
		n.states[tp{p.Topic, p.Index}] = next
	}
	n.mu.Unlock()
	p.ApplyISR(epoch, next.ISR)
	n.log.Info("ISR changed", "topic", p.Topic, "partition", p.Index, "isr", next.ISR, "leader.epoch", epoch)
}
