package chaos

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kafki/kafki/internal/poll"
)

// partitionHold is how long a network fault lasts: three times the longer
// of the session lease and the replica lag limit, so that whatever the
// fault sets in motion (ISR shrinks for a cut, a lapsed lease and a new
// election for an isolation) has happened well before it is healed. A
// timed fault, not a synchronisation.
func partitionHold() time.Duration { return 3 * max(sessionLease, lagTimeMax) }

// cutLeader is fault (e): cut the leader of partition p off from its
// peers, but not from DynamoDB nor the clients. It keeps its session lease
// and so its leaderships, while its followers can no longer fetch: they
// fall out of its ISRs, and with min.insync.replicas=2 every acks=all
// write it gets must fail. No write sent after the cut may be
// acknowledged before the heal by a leader that kept its epoch all along:
// a follower cannot have fetched it, so such an ack is a false one.
func (n *nemesis) cutLeader(ctx context.Context, p int32) (err error) {
	before, err := n.h.leaders(ctx)
	if err != nil {
		return err
	}
	victim := before[p].leader
	led := ledBy(before, victim)
	proc := n.h.c.Broker(victim)
	if proc == nil {
		return fmt.Errorf("partition %d has no live leader (%d)", p, victim)
	}
	hold := partitionHold()
	if err := proc.CutFromPeers(); err != nil {
		return err
	}
	healed := false
	defer func() {
		if !healed {
			err = errors.Join(err, proc.Heal())
		}
	}()
	cutAt := time.Now()

	// The leader shrinks the ISRs of what it leads to itself: measured,
	// not required (a broker that keeps waiting for its followers is
	// safe, only slower to report).
	shrunk := map[int32]time.Duration{}
	_ = poll.WithinEvery(ctx, hold, pollEvery, fmt.Sprintf("broker %d shrinks the ISRs of partitions %v to itself", victim, led), func() error {
		v, err := n.h.metadataOf(ctx, victim)
		if err != nil {
			return err
		}
		for _, q := range led {
			if _, done := shrunk[q]; done {
				continue
			}
			if pv := v[q]; pv.leader == victim && len(pv.isr) < minInsync {
				shrunk[q] = time.Since(cutAt)
			}
		}
		if len(shrunk) < len(led) {
			return errors.New("not yet")
		}
		return nil
	})
	select {
	case <-time.After(time.Until(cutAt.Add(hold))):
	case <-ctx.Done():
		return ctx.Err()
	}
	after, err := n.h.leaders(ctx)
	if err != nil {
		return err
	}
	end := time.Now()
	if err := proc.Heal(); err != nil {
		return err
	}
	healed = true
	healAt := time.Now()

	bad := map[int32]int{}
	examples := map[int32][]string{}
	for _, a := range n.wl.acks.sentAndAckedWithin(cutAt, end) {
		bad[a.partition]++
		if len(examples[a.partition]) < 3 {
			examples[a.partition] = append(examples[a.partition], fmt.Sprintf("offset %d sent +%d ms acked +%d ms",
				a.offset, a.sent.Sub(cutAt).Milliseconds(), a.at.Sub(cutAt).Milliseconds()))
		}
	}
	for _, q := range led {
		kept := after[q].leader == victim && after[q].epoch == before[q].epoch
		switch {
		case kept && bad[q] > 0:
			n.h.t.Errorf("partition %d: %d writes sent after its leader %d was cut from its peers were acknowledged during the cut (epoch %d kept; ISR shrank at +%d ms): no follower can have had them; e.g. %v",
				q, bad[q], victim, before[q].epoch, shrunk[q].Milliseconds(), examples[q])
		case !kept:
			n.h.t.Logf("partition %d: leadership moved during the cut, %d (epoch %d) -> %d (epoch %d)", q, victim, before[q].epoch, after[q].leader, after[q].epoch)
		}
		if d, ok := shrunk[q]; ok {
			n.h.t.Logf("cut of leader %d: partition %d ISR shrank to the leader after %d ms; %d writes acknowledged during the %s cut",
				victim, q, d.Milliseconds(), bad[q], hold)
		} else {
			n.h.t.Logf("cut of leader %d: partition %d ISR not shrunk to the leader within %s; %d writes acknowledged during the cut", victim, q, hold, bad[q])
		}
	}
	if err := n.h.waitHealthy(ctx); err != nil {
		return err
	}
	full := time.Since(healAt)
	if err := n.waitWrites(ctx, healAt); err != nil {
		return err
	}
	firstAck := make([]int64, len(led))
	for i, q := range led {
		at, _ := n.wl.acks.firstAfter(q, healAt)
		firstAck[i] = at.Sub(healAt).Milliseconds()
	}
	n.h.t.Logf("heal of leader %d: every ISR full after %d ms; first ack of a write sent after the heal, partitions %v: %v ms",
		victim, full.Milliseconds(), led, firstAck)
	return nil
}

// isolateLeader is fault (f): cut the leader of partition p off from
// everything, DynamoDB included. Its session lease lapses, so it must stop
// acting and a new leader is elected; when healed it must truncate any
// tail it appended but never committed, and rejoin every ISR. Whatever it
// acknowledged that the new leader lacks is a lost write, which the
// checker reports (and clients cannot even hear it during the fault).
func (n *nemesis) isolateLeader(ctx context.Context, r int, p int32) (err error) {
	victim, led, proc, err := n.takeDownLeader(ctx, p)
	if err != nil {
		return err
	}
	t0 := time.Now()
	if err := proc.Isolate(); err != nil {
		return err
	}
	healed := false
	defer func() {
		if !healed {
			err = errors.Join(err, proc.Heal())
			n.h.setDown(victim, false)
		}
	}()
	if err := n.measure(ctx, r, "isolate", victim, led, t0); err != nil {
		return err
	}
	select {
	case <-time.After(time.Until(t0.Add(partitionHold()))):
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := proc.Heal(); err != nil {
		return err
	}
	healed = true
	n.h.setDown(victim, false)
	healAt := time.Now()
	if err := n.h.waitHealthy(ctx); err != nil {
		return err
	}
	n.h.t.Logf("heal of isolated broker %d: back in every ISR after %d ms", victim, time.Since(healAt).Milliseconds())
	return n.waitWrites(ctx, healAt)
}
