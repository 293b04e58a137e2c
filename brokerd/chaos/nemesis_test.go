package chaos

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/kafki/kafki/brokerd/internal/clusterproc"
	"github.com/kafki/kafki/internal/poll"
)

// failover is one measured leader failure.
type failover struct {
	Round     int     `json:"round"`
	Fault     string  `json:"fault"` // "kill" (SIGKILL), "pause" (SIGSTOP) or "isolate" (network)
	Partition int32   `json:"partition"`
	OldLeader int32   `json:"old_leader"`
	NewLeader int32   `json:"new_leader"`
	ElectMs   float64 `json:"elect_ms"`     // signal until a broker's metadata names a new leader
	FirstAck  float64 `json:"first_ack_ms"` // signal until the first acks=all write to the partition succeeds
}

// faultTimeout bounds waiting for a new leader or a first write after a
// fault.
const faultTimeout = 45 * time.Second

// belowMinHold is how long two brokers stay dead once every partition is
// below min.insync.replicas: the window in which the writers keep sending
// and no send may be acknowledged. Longer than deliveryTimeout, so some
// sends run out of retries and end indeterminate (a leader may have
// appended them without committing them), which is the history the
// checker must judge. A timed fault, not a synchronisation.
const belowMinHold = deliveryTimeout + time.Second

// nemesis applies the fault sequence, with the workload running.
type nemesis struct {
	h       *harness
	wl      *workload
	lease   time.Duration
	samples []failover
	// netFaults enables the network partitions (e) and (f): the
	// cluster runs with clusterproc.Options.NetNS.
	netFaults bool
	// short limits a round to faults (a) and (b): a quick run for the
	// normal suite.
	short bool
}

// round runs faults (a) to (d), and (e) and (f) with netFaults, once,
// healing the cluster after each; with short only (a) and (b).
func (n *nemesis) round(ctx context.Context, r int) error {
	n.h.t.Logf("round %d: (a) kill the leader of partition 0", r)
	if err := n.killLeader(ctx, r, 0); err != nil {
		return fmt.Errorf("round %d, kill leader: %w", r, err)
	}
	p := int32(1 + r%(partitions-1))
	n.h.t.Logf("round %d: (b) pause the leader of partition %d for %s", r, p, 3*n.lease)
	if err := n.pauseLeader(ctx, r, p); err != nil {
		return fmt.Errorf("round %d, pause leader: %w", r, err)
	}
	if n.short {
		return nil
	}
	n.h.t.Logf("round %d: (c) kill a follower of partition 0", r)
	if err := n.killFollower(ctx, r, 0); err != nil {
		return fmt.Errorf("round %d, kill follower: %w", r, err)
	}
	survivor := int32(1 + r%replicas)
	n.h.t.Logf("round %d: (d) kill every broker but %d", r, survivor)
	if err := n.killAllBut(ctx, survivor); err != nil {
		return fmt.Errorf("round %d, kill two: %w", r, err)
	}
	if !n.netFaults {
		return nil
	}
	p = int32(r % partitions)
	n.h.t.Logf("round %d: (e) cut the leader of partition %d from its peers for %s", r, p, partitionHold())
	if err := n.cutLeader(ctx, p); err != nil {
		return fmt.Errorf("round %d, cut leader from peers: %w", r, err)
	}
	p = int32((r + 1) % partitions)
	n.h.t.Logf("round %d: (f) isolate the leader of partition %d for %s", r, p, partitionHold())
	if err := n.isolateLeader(ctx, r, p); err != nil {
		return fmt.Errorf("round %d, isolate leader: %w", r, err)
	}
	return nil
}

// takeDownLeader finds partition p's leader and the partitions it leads,
// and marks it down for the workload, before a fault is applied to it.
func (n *nemesis) takeDownLeader(ctx context.Context, p int32) (victim int32, led []int32, proc *clusterproc.Proc, err error) {
	ls, err := n.h.leaders(ctx)
	if err != nil {
		return 0, nil, nil, err
	}
	victim = ls[p].leader
	led = ledBy(ls, victim)
	if proc = n.h.c.Broker(victim); proc == nil {
		return 0, nil, nil, fmt.Errorf("partition %d has no live leader (%d)", p, victim)
	}
	n.h.setDown(victim, true)
	return victim, led, proc, nil
}

// killLeader is fault (a): SIGKILL the leader of partition p, wait for a
// new leader, restart the old one and wait until it is back in every ISR.
func (n *nemesis) killLeader(ctx context.Context, r int, p int32) error {
	victim, led, proc, err := n.takeDownLeader(ctx, p)
	if err != nil {
		return err
	}
	t0 := time.Now()
	if err := proc.Kill(); err != nil {
		return err
	}
	if err := n.measure(ctx, r, "kill", victim, led, t0); err != nil {
		return err
	}
	return n.restart(ctx, victim)
}

// pauseLeader is fault (b): SIGSTOP the leader of partition p for three
// session leases, so it is fenced and loses its leaderships while it
// still believes in them, then SIGCONT it. Whatever it acknowledges after
// waking would be a lost write, which the checker reports.
func (n *nemesis) pauseLeader(ctx context.Context, r int, p int32) error {
	victim, led, proc, err := n.takeDownLeader(ctx, p)
	if err != nil {
		return err
	}
	t0 := time.Now()
	if err := proc.Stop(); err != nil {
		return err
	}
	if err := n.measure(ctx, r, "pause", victim, led, t0); err != nil {
		_ = proc.Cont()
		return err
	}
	// A timed fault, not a synchronisation: the pause must outlast the
	// lease by a margin, whatever the cluster did meanwhile.
	select {
	case <-time.After(time.Until(t0.Add(3 * n.lease))):
	case <-ctx.Done():
		_ = proc.Cont()
		return ctx.Err()
	}
	if err := proc.Cont(); err != nil {
		return err
	}
	n.h.setDown(victim, false)
	return n.heal(ctx)
}

// killFollower is fault (c): SIGKILL a broker that follows partition p
// (the one leading the fewest partitions; with three brokers it may lead
// another partition, whose failover is measured too), then restart it.
func (n *nemesis) killFollower(ctx context.Context, r int, p int32) error {
	ls, err := n.h.leaders(ctx)
	if err != nil {
		return err
	}
	victim := int32(-1)
	for _, id := range n.h.up() {
		if id == ls[p].leader {
			continue
		}
		if victim < 0 || len(ledBy(ls, id)) < len(ledBy(ls, victim)) {
			victim = id
		}
	}
	if victim < 0 {
		return fmt.Errorf("partition %d has no follower up", p)
	}
	led := ledBy(ls, victim)
	n.h.setDown(victim, true)
	t0 := time.Now()
	if err := n.h.c.Broker(victim).Kill(); err != nil {
		return err
	}
	if len(led) > 0 {
		if err := n.measure(ctx, r, "kill", victim, led, t0); err != nil {
			return err
		}
	}
	return n.restart(ctx, victim)
}

// killAllBut is fault (d): SIGKILL every broker but survivor. Once the
// survivor reports every partition below min.insync.replicas (ISR of one,
// or offline), no write sent from then on may be acknowledged while the
// others are dead; the brokers are then restarted.
func (n *nemesis) killAllBut(ctx context.Context, survivor int32) error {
	var victims []int32
	for _, id := range n.h.up() {
		if id != survivor {
			victims = append(victims, id)
		}
	}
	for _, id := range victims {
		n.h.setDown(id, true)
		if err := n.h.c.Broker(id).Kill(); err != nil {
			return err
		}
	}
	err := poll.WithinEvery(ctx, faultTimeout, pollEvery, fmt.Sprintf("broker %d reports every partition below min.insync.replicas", survivor), func() error {
		v, err := n.h.metadataOf(ctx, survivor)
		if err != nil {
			return err
		}
		for p := range int32(partitions) {
			if pv := v[p]; pv.leader >= 0 && len(pv.isr) >= minInsync {
				return fmt.Errorf("partition %d: leader %d ISR %v", p, pv.leader, pv.isr)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	from := time.Now()
	// Timed fault: keep the cluster below min ISR while writes go on.
	select {
	case <-time.After(belowMinHold):
	case <-ctx.Done():
		return ctx.Err()
	}
	to := time.Now()
	if bad := n.wl.acks.sentAndAckedWithin(from, to); len(bad) > 0 {
		n.h.t.Errorf("%d writes sent while only broker %d was alive (every partition below min.insync.replicas=%d) were acknowledged, e.g. to partition %d at %s",
			len(bad), survivor, minInsync, bad[0].partition, bad[0].at.Format(time.RFC3339Nano))
	}
	n.h.t.Logf("kept below min ISR for %s", to.Sub(from).Round(time.Millisecond))
	errs := make([]error, len(victims))
	var wg sync.WaitGroup
	for i, id := range victims {
		wg.Go(func() { errs[i] = n.h.c.Broker(id).Restart(ctx) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, id := range victims {
		n.h.setDown(id, false)
	}
	if err := n.heal(ctx); err != nil {
		return err
	}
	// The writes sent in the window were held back by the client (it
	// retries NOT_ENOUGH_REPLICAS) and acknowledged only after the
	// restart, or failed: show that the window did see writes.
	n.h.t.Logf("of the writes sent while below min ISR, %d were acknowledged after the restart; %d sends failed so far in the test",
		len(n.wl.acks.sentAndAckedWithin(from, time.Now())), n.wl.writeErr.Load())
	return nil
}

func (n *nemesis) restart(ctx context.Context, id int32) error {
	if err := n.h.c.Broker(id).Restart(ctx); err != nil {
		return err
	}
	n.h.setDown(id, false)
	return n.heal(ctx)
}

// heal waits until every partition is led with a full ISR on every
// broker, and writes succeed again on every partition.
func (n *nemesis) heal(ctx context.Context) error {
	if err := n.h.waitHealthy(ctx); err != nil {
		return err
	}
	return n.waitWrites(ctx, time.Now())
}

// waitWrites waits until every partition has an acknowledgement that
// arrived after since.
func (n *nemesis) waitWrites(ctx context.Context, since time.Time) error {
	return poll.WithinEvery(ctx, faultTimeout, pollEvery, "an acknowledged write on every partition", func() error {
		got := n.wl.acks.countSince(since)
		for p := range int32(partitions) {
			if got[p] == 0 {
				return fmt.Errorf("no write acknowledged on partition %d since %s", p, since.Format(time.TimeOnly))
			}
		}
		return nil
	})
}

// measure records the failover of every partition in led, whose leader
// victim was killed or paused at t0: when an up broker first names
// another leader, and when the first write to the partition is
// acknowledged after t0 (acknowledgements of the old leader cannot
// arrive after t0: it is dead or paused).
func (n *nemesis) measure(ctx context.Context, r int, fault string, victim int32, led []int32, t0 time.Time) error {
	elected := map[int32]failover{}
	err := poll.WithinEvery(ctx, faultTimeout, pollEvery, fmt.Sprintf("new leaders for partitions %v of broker %d", led, victim), func() error {
		ls, err := n.h.leaders(ctx)
		if err != nil {
			return err
		}
		now := time.Now()
		for _, p := range led {
			if _, done := elected[p]; done {
				continue
			}
			if l := ls[p].leader; l >= 0 && l != victim {
				elected[p] = failover{Round: r, Fault: fault, Partition: p, OldLeader: victim, NewLeader: l, ElectMs: ms(now.Sub(t0))}
			}
		}
		if len(elected) < len(led) {
			return fmt.Errorf("elected so far: %v", slices.Sorted(maps.Keys(elected)))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, p := range led {
		f := elected[p]
		err := poll.WithinEvery(ctx, faultTimeout, pollEvery, fmt.Sprintf("first write to partition %d after its leader %d failed", p, victim), func() error {
			at, ok := n.wl.acks.firstAfter(p, t0)
			if !ok {
				return errors.New("none yet")
			}
			f.FirstAck = ms(at.Sub(t0))
			return nil
		})
		if err != nil {
			return err
		}
		n.samples = append(n.samples, f)
		n.h.t.Logf("failover (%s) of partition %d: %d -> %d, elected after %.0f ms, first ack after %.0f ms", fault, p, victim, f.NewLeader, f.ElectMs, f.FirstAck)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
