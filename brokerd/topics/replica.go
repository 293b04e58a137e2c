package topics

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/kafki/kafki/brokerd/replication"
)

// Role is what this broker is for a partition.
type Role int

const (
	// Standalone: a single node (embedded metadata) leads every partition
	// at leader epoch 0 and everything appended is committed. The zero
	// value, so partitions outside a cluster need no setup.
	Standalone Role = iota
	// Leader: this broker leads at the partition's current leader epoch.
	Leader
	// Follower: this broker copies the leader's log.
	Follower
	// NoRole: this broker holds no replica the cluster counts, or does not
	// know the partition's state yet; it serves nothing of it.
	NoRole
)

func (r Role) String() string {
	switch r {
	case Standalone:
		return "standalone"
	case Leader:
		return "leader"
	case Follower:
		return "follower"
	default:
		return "none"
	}
}

// Errors of the replicated paths; the server maps them to Kafka codes.
var (
	// ErrNotLeader: this broker does not lead the partition
	// (NOT_LEADER_OR_FOLLOWER); the client refreshes metadata.
	ErrNotLeader = errors.New("not the leader of this partition")
	// ErrFencedLeaderEpoch: the request carried an older leader epoch
	// than the partition's (FENCED_LEADER_EPOCH).
	ErrFencedLeaderEpoch = errors.New("leader epoch of the request is older than the partition's")
	// ErrUnknownLeaderEpoch: the request carried a newer leader epoch than
	// this broker knows (UNKNOWN_LEADER_EPOCH); it has not caught up on
	// metadata yet.
	ErrUnknownLeaderEpoch = errors.New("leader epoch of the request is newer than this broker knows")
	// ErrNotEnoughReplicas: the ISR is below min.insync.replicas
	// (NOT_ENOUGH_REPLICAS before an acks=all append).
	ErrNotEnoughReplicas = replication.ErrNotEnoughReplicas
	// ErrNotEnoughReplicasAfterAppend: appended, but committed by fewer
	// replicas than min.insync.replicas (NOT_ENOUGH_REPLICAS_AFTER_APPEND).
	ErrNotEnoughReplicasAfterAppend = errors.New("write committed by fewer in-sync replicas than min.insync.replicas")
	// ErrCommitTimeout: the in-sync replicas did not all copy the write
	// within the request's timeout (REQUEST_TIMED_OUT).
	ErrCommitTimeout = errors.New("in-sync replicas did not copy the write in time")
	// ErrLowWatermarkTimeout: the in-sync replicas did not all move their
	// log start to a DeleteRecords offset within the request's timeout
	// (REQUEST_TIMED_OUT).
	ErrLowWatermarkTimeout = errors.New("in-sync replicas did not reach the new log start in time")
	// ErrInvalidReplicationFactor: more replicas asked for than live
	// brokers, or fewer than one (INVALID_REPLICATION_FACTOR).
	ErrInvalidReplicationFactor = errors.New("invalid replication factor")
)

// ReplicaHooks connect partitions to the cluster. Set them with
// Manager.SetReplicaHooks before any partition leaves Standalone.
type ReplicaHooks struct {
	// CanAct reports whether this broker's session lease is valid now. A
	// leader checks it before every acknowledgement and every answer to
	// a consumer: a broker that may have been declared dead must not act
	// as a leader (lease rule 4).
	CanAct func() bool
	// ExpandISR asks for follower to join the ISR of p at epoch; called
	// without locks held, it must not block (the caller persists the
	// change and then calls ApplyISR).
	ExpandISR func(p *Partition, epoch int32, follower int32)
}

// replica is the partition's replication state on this broker. hwCh is
// closed (and replaced) whenever the high watermark moves, so consumer
// long polls wake, and whenever the leader's view of its followers' log
// starts moves, so DeleteRecords waiters wake (rare: only after the log
// start moved; consumers woken then just wait again). Under mu only the
// replication.Leader (pure) and the log's offsets are called, never a
// replica hook or a wait (see the package doc's lock order).
type replica struct {
	mu         sync.Mutex
	role       Role                // guarded by mu
	leaderID   int32               // guarded by mu
	epoch      int32               // guarded by mu
	lead       *replication.Leader // role Leader; guarded by mu (not safe for concurrent use itself)
	followerHW int64               // role Follower: as the leader last said; guarded by mu
	// isrVersion is the version of the persisted partition state whose
	// ISR lead holds (role Leader); guarded by mu. An ISR read at an older
	// version is stale and never applied: see ApplyISR.
	isrVersion int64
	hwCh       chan struct{} // guarded by mu; nil until HWChanged asks for one
}

// Role returns this broker's role, the leader's id and the leader epoch.
func (p *Partition) Role() (role Role, leader, epoch int32) {
	p.rep.mu.Lock()
	defer p.rep.mu.Unlock()
	return p.rep.role, p.rep.leaderID, p.rep.epoch
}

// HighWatermark is the offset below which records are committed and
// visible to consumers: the log end offset on a single node, the minimum
// log end offset over the ISR on a leader, and what the leader last
// reported (never above the local log end) on a follower.
func (p *Partition) HighWatermark() int64 {
	p.rep.mu.Lock()
	role, lead, fhw := p.rep.role, p.rep.lead, p.rep.followerHW
	var hw int64
	if role == Leader {
		hw = lead.HighWatermark()
	}
	p.rep.mu.Unlock()
	switch role {
	case Standalone:
		return p.log.LogEndOffset()
	case Leader:
		return hw
	default:
		return min(fhw, p.log.LogEndOffset())
	}
}

// HWChanged returns a channel closed when the high watermark next moves
// (or the role changes, or, on a leader, the low watermark moves). On a
// single node it never fires: appends signal through the log's own
// Changed channel.
func (p *Partition) HWChanged() <-chan struct{} {
	p.rep.mu.Lock()
	defer p.rep.mu.Unlock()
	if p.rep.hwCh == nil {
		p.rep.hwCh = make(chan struct{})
	}
	return p.rep.hwCh
}

// signalLocked wakes HWChanged waiters. Caller holds rep.mu.
func (p *Partition) signalLocked() {
	if p.rep.hwCh != nil {
		close(p.rep.hwCh)
		p.rep.hwCh = nil
	}
}

// BecomeLeader makes this broker the leader at epoch with the replicas
// and ISR persisted at version isrVersion. A leadership at the same epoch
// only takes the ISR, and only if it is not older than the one it holds
// (ApplyISR).
func (p *Partition) BecomeLeader(self, epoch int32, replicas, isr []int32, isrVersion int64, minISR int, lagMax time.Duration) {
	p.rep.mu.Lock()
	defer p.rep.mu.Unlock()
	if p.rep.role == Leader && p.rep.epoch == epoch {
		p.rep.lead.SetMinISR(minISR) // the topic's config may have changed
		p.applyISRLocked(isr, isrVersion)
		return
	}
	// The HW known so far: what the old leader told this follower, or the
	// log end of a standalone log (all committed).
	hw := p.rep.followerHW
	if p.rep.role == Standalone {
		hw = p.log.LogEndOffset()
	}
	if p.rep.lead != nil {
		p.rep.lead.Resign()
	}
	p.rep.role, p.rep.leaderID, p.rep.epoch, p.rep.isrVersion = Leader, self, epoch, isrVersion
	p.rep.lead = replication.NewLeader(self, replicas, isr, minISR, lagMax, p.log.LogEndOffset(), hw, time.Now())
	p.rep.lead.Appended(p.log.LogEndOffset())
	p.signalLocked()
}

// BecomeFollower makes this broker a follower of leader at epoch; a
// leadership it held ends (waiting acks=all writes fail with
// NOT_LEADER_OR_FOLLOWER and the producer retries).
func (p *Partition) BecomeFollower(leader, epoch int32) {
	p.setPassive(Follower, leader, epoch)
}

// BecomeNone makes the partition serve nothing from this broker.
func (p *Partition) BecomeNone(leader, epoch int32) {
	p.setPassive(NoRole, leader, epoch)
}

func (p *Partition) setPassive(role Role, leader, epoch int32) {
	p.rep.mu.Lock()
	defer p.rep.mu.Unlock()
	if p.rep.lead != nil {
		// Keep the committed offset as the follower's HW: it is what the
		// next leader will have too.
		p.rep.followerHW = p.rep.lead.HighWatermark()
		p.rep.lead.Resign()
		p.rep.lead = nil
	} else if p.rep.role == Standalone {
		p.rep.followerHW = p.log.LogEndOffset()
	}
	p.rep.role, p.rep.leaderID, p.rep.epoch = role, leader, epoch
	p.signalLocked()
}

// SetFollowerHW records the high watermark the leader reported.
func (p *Partition) SetFollowerHW(hw int64) {
	p.rep.mu.Lock()
	defer p.rep.mu.Unlock()
	if p.rep.role == Follower && hw > p.rep.followerHW {
		p.rep.followerHW = hw
		p.signalLocked()
	}
}

// ApplyISR installs the ISR persisted at version, if this broker still
// leads at epoch and holds no newer one.
//
// An older ISR is stale (a metadata snapshot read before this leader
// persisted a change, applied after it) and would be unsafe both ways: a
// larger one counts followers that never caught up (after a shrink below
// min.insync.replicas the high watermark ran ahead of them, and a retried
// write below it would be acknowledged as fully replicated), a smaller
// one drops followers the persisted ISR still names, so the leader would
// acknowledge writes a future leader elected from that ISR may lack.
func (p *Partition) ApplyISR(epoch int32, isr []int32, version int64) {
	p.rep.mu.Lock()
	defer p.rep.mu.Unlock()
	if p.rep.role == Leader && p.rep.epoch == epoch {
		p.applyISRLocked(isr, version)
	}
}

// CountInSync adds follower to the leader's ISR in memory, before the
// change is persisted (the maximal ISR of package replication/isr): the
// follower caught up, so counting it for the high watermark is safe at
// any version.
func (p *Partition) CountInSync(epoch int32, follower int32) {
	p.rep.mu.Lock()
	defer p.rep.mu.Unlock()
	if p.rep.role == Leader && p.rep.epoch == epoch {
		isr := p.rep.lead.ISR()
		if !slices.Contains(isr, follower) && p.rep.lead.ApplyISR(append(isr, follower)) {
			p.signalLocked()
		}
	}
}

func (p *Partition) applyISRLocked(isr []int32, version int64) {
	if version < p.rep.isrVersion {
		return
	}
	p.rep.isrVersion = version
	if p.rep.lead.ApplyISR(isr) {
		p.signalLocked()
	}
}

// ISR returns the leader's current ISR and epoch; ok is false when this
// broker does not lead.
func (p *Partition) ISR() (isr []int32, epoch int32, ok bool) {
	p.rep.mu.Lock()
	defer p.rep.mu.Unlock()
	if p.rep.role != Leader {
		return nil, 0, false
	}
	return p.rep.lead.ISR(), p.rep.epoch, true
}

// Laggards returns the ISR followers that fell behind by now, with the
// epoch they were judged at.
func (p *Partition) Laggards(now time.Time) (out []int32, epoch int32) {
	p.rep.mu.Lock()
	defer p.rep.mu.Unlock()
	if p.rep.role != Leader {
		return nil, 0
	}
	return p.rep.lead.Laggards(now), p.rep.epoch
}

// checkEpochLocked compares a request's current leader epoch (-1: the
// client does not know it) with the partition's.
func (p *Partition) checkEpochLocked(reqEpoch int32) error {
	switch {
	case reqEpoch < 0 || reqEpoch == p.rep.epoch:
		return nil
	case reqEpoch < p.rep.epoch:
		return ErrFencedLeaderEpoch
	default:
		return ErrUnknownLeaderEpoch
	}
}

// CheckLeader returns nil if this broker may serve clients of the
// partition as its leader now, for a request at reqEpoch (-1: unknown).
func (p *Partition) CheckLeader(reqEpoch int32) error {
	p.rep.mu.Lock()
	role := p.rep.role
	err := p.checkEpochLocked(reqEpoch)
	p.rep.mu.Unlock()
	switch role {
	case Standalone:
		if reqEpoch > 0 {
			return ErrUnknownLeaderEpoch
		}
		return nil
	case Leader:
		if err != nil {
			return err
		}
		if h := p.mgr.replicaHooks.CanAct; h != nil && !h() {
			return ErrNotLeader
		}
		return nil
	default:
		if err == ErrFencedLeaderEpoch {
			return err
		}
		return ErrNotLeader
	}
}

// leaderEpochForAppend is the epoch stamped on batches appended now; it
// refuses when this broker does not lead, or leads but its session lease
// is no longer valid (a write it could never acknowledge).
func (p *Partition) leaderEpochForAppend() (int32, error) {
	p.rep.mu.Lock()
	role, epoch := p.rep.role, p.rep.epoch
	p.rep.mu.Unlock()
	switch role {
	case Standalone:
		return 0, nil
	case Leader:
		if h := p.mgr.replicaHooks.CanAct; h != nil && !h() {
			return 0, ErrNotLeader
		}
		return epoch, nil
	default:
		return 0, ErrNotLeader
	}
}

// appended tells the leader state that the log end moved.
func (p *Partition) appended() {
	p.rep.mu.Lock()
	defer p.rep.mu.Unlock()
	if p.rep.role == Leader && p.rep.lead.Appended(p.log.LogEndOffset()) {
		p.signalLocked()
	}
}

// CanAcceptAll reports whether an acks=all write may be appended now
// (min.insync.replicas).
func (p *Partition) CanAcceptAll() error {
	p.rep.mu.Lock()
	defer p.rep.mu.Unlock()
	if p.rep.role != Leader {
		return nil // Standalone accepts; others fail at append
	}
	return p.rep.lead.CanAccept()
}

// AwaitCommitted waits until the record at lastOffset is committed (the
// high watermark passed it), for an acks=all answer. It fails when the ISR
// is too small, leadership ends, the session lease lapses or ctx ends.
func (p *Partition) AwaitCommitted(ctx context.Context, lastOffset int64) error {
	p.rep.mu.Lock()
	if p.rep.role != Leader {
		role := p.rep.role
		p.rep.mu.Unlock()
		if role == Standalone {
			return nil
		}
		return ErrNotLeader
	}
	done := p.rep.lead.Await(lastOffset)
	p.rep.mu.Unlock()
	if h := p.mgr.replicaHooks.CanAct; h != nil && !h() {
		// The session lapsed: followers are refused, the high watermark
		// cannot move, and nothing may be acknowledged.
		return ErrNotLeader
	}
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrCommitTimeout, ctx.Err())
	}
	switch {
	case errors.Is(err, replication.ErrLeadershipLost):
		return ErrNotLeader
	case errors.Is(err, replication.ErrNotEnoughReplicas):
		return ErrNotEnoughReplicasAfterAppend
	case err != nil:
		return err
	}
	if h := p.mgr.replicaHooks.CanAct; h != nil && !h() {
		return ErrNotLeader
	}
	return nil
}

// ReadReplicas returns, on a leader, the in-sync followers a consumer
// fetching at offset may be sent to (KIP-392); nil elsewhere.
func (p *Partition) ReadReplicas(offset int64) []replication.ReplicaPosition {
	p.rep.mu.Lock()
	defer p.rep.mu.Unlock()
	if p.rep.role != Leader {
		return nil
	}
	return p.rep.lead.Holding(offset)
}

// CheckFollowerRead returns nil if this broker may serve a consumer's
// fetch at reqEpoch (-1: unknown) from its copy as a follower (KIP-392):
// it follows the partition at that epoch. Records are then served up to
// the high watermark the leader last reported.
func (p *Partition) CheckFollowerRead(reqEpoch int32) error {
	p.rep.mu.Lock()
	defer p.rep.mu.Unlock()
	if p.rep.role != Follower {
		return ErrNotLeader
	}
	return p.checkEpochLocked(reqEpoch)
}

// FollowerFetch records a fetch by follower replica at offset and epoch,
// holding records from logStart (the fetch's LogStartOffset, -1 before
// Fetch v5), and returns the high watermark to report to it.
func (p *Partition) FollowerFetch(replica, reqEpoch int32, offset, logStart int64) (int64, error) {
	// A leader whose session lapsed must not let followers move its high
	// watermark: it may have been deposed already.
	if h := p.mgr.replicaHooks.CanAct; h != nil && !h() {
		return -1, ErrNotLeader
	}
	p.rep.mu.Lock()
	if p.rep.role != Leader {
		p.rep.mu.Unlock()
		return -1, ErrNotLeader
	}
	if err := p.checkEpochLocked(reqEpoch); err != nil {
		p.rep.mu.Unlock()
		return -1, err
	}
	moved, expand, ok := p.rep.lead.FollowerFetch(replica, offset, logStart, time.Now())
	if moved {
		p.signalLocked()
	}
	hw, epoch := p.rep.lead.HighWatermark(), p.rep.epoch
	p.rep.mu.Unlock()
	if ok {
		if h := p.mgr.replicaHooks.ExpandISR; h != nil {
			h(p, epoch, expand)
		}
	}
	return hw, nil
}

// AwaitLowWatermark waits until the partition's low watermark (the
// smallest log start over the leader and its in-sync followers, as their
// fetches report it; replication.Leader.LowWatermark) reaches offset, and
// returns it: DeleteRecords answers then (Kafka's DelayedDeleteRecords),
// so no replica that may be elected leader still serves what was deleted.
// It wakes on the fetches that move it, not by polling. On a single node
// it is the log start at once. When ctx ends first it returns the low
// watermark so far with ErrLowWatermarkTimeout; when this broker stops
// leading at the epoch it started at, or its session lease lapses,
// ErrNotLeader.
func (p *Partition) AwaitLowWatermark(ctx context.Context, offset int64) (int64, error) {
	p.rep.mu.Lock()
	role, epoch := p.rep.role, p.rep.epoch
	p.rep.mu.Unlock()
	switch role {
	case Standalone:
		return p.log.LogStartOffset(), nil
	case Leader:
	default:
		return -1, ErrNotLeader
	}
	for {
		// Take the channel before reading, so a move in between wakes us.
		changed := p.HWChanged()
		p.rep.mu.Lock()
		leads := p.rep.role == Leader && p.rep.epoch == epoch
		var low int64
		if leads {
			low = p.rep.lead.LowWatermark(p.log.LogStartOffset())
		}
		p.rep.mu.Unlock()
		if !leads {
			return -1, ErrNotLeader
		}
		if h := p.mgr.replicaHooks.CanAct; h != nil && !h() {
			// Followers are refused now: nothing can move, and this
			// broker may have been deposed.
			return -1, ErrNotLeader
		}
		if low >= offset {
			return low, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return low, fmt.Errorf("%w: low watermark %d, want %d: %w", ErrLowWatermarkTimeout, low, offset, ctx.Err())
		}
	}
}
