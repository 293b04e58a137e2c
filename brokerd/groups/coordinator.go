package groups

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kafki/kafki/brokerd/topics"
)

// Config holds the coordinator's settings (Kafka's group.* and offsets.*
// broker settings).
type Config struct {
	MinSessionTimeout     time.Duration // group.min.session.timeout.ms
	MaxSessionTimeout     time.Duration // group.max.session.timeout.ms
	InitialRebalanceDelay time.Duration // group.initial.rebalance.delay.ms
	MaxSize               int           // group.max.size
	MaxMetadataBytes      int           // offset.metadata.max.bytes
	OffsetsRetention      time.Duration // offsets.retention.minutes
	// SnapshotMinRecords is the slack of records beyond twice the live
	// keys a partition may hold before it is snapshotted (see doc.go).
	SnapshotMinRecords int
	// CommitTimeout bounds how long a write of group state waits for the
	// in-sync replicas of its partition (offsets.commit.timeout.ms).
	CommitTimeout time.Duration
	// Clustered makes the coordinator serve only the partitions of
	// __consumer_offsets this broker leads, as SetLeadership tells it.
	// Without it (a single node) every partition is served once opened.
	Clustered bool
}

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		MinSessionTimeout:     6 * time.Second,
		MaxSessionTimeout:     30 * time.Minute,
		InitialRebalanceDelay: 3 * time.Second,
		MaxSize:               1 << 30,
		MaxMetadataBytes:      4096,
		OffsetsRetention:      7 * 24 * time.Hour,
		SnapshotMinRecords:    10000,
		CommitTimeout:         5 * time.Second,
	}
}

// Coordinator coordinates every group whose offsets partition this broker
// serves: all of them on a single node, the ones it leads in a cluster.
// Safe for concurrent use.
type Coordinator struct {
	cfg    Config
	open   func() ([]Log, error)
	topics Topics
	clock  Clock
	log    *slog.Logger

	openMu sync.Mutex               // serializes opening
	shards atomic.Pointer[[]*shard] // nil until opened; then immutable
}

// shardState is whether a shard serves its groups.
type shardState int8

const (
	// inactive: another broker leads the partition (or none is known);
	// requests answer NOT_COORDINATOR and the shard holds no groups.
	inactive shardState = iota
	// loading: this broker leads the partition and is replaying its log;
	// requests answer COORDINATOR_LOAD_IN_PROGRESS, which clients retry
	// on the same broker.
	loading
	// active: the shard serves its groups.
	active
)

// shard is one partition of __consumer_offsets and the groups it holds.
type shard struct {
	c   *Coordinator
	idx int32

	mu sync.Mutex
	// lg is the partition's log; SetLeadership may replace it with the
	// one the topic manager holds now. Guarded by mu.
	lg    Log
	state shardState // guarded by mu; always active on a single node
	// term counts leadership changes, so that a load finishing after a
	// later change does not install stale state. Guarded by mu.
	term   uint64
	groups map[string]*group // guarded by mu; empty unless active
	// logRecords counts the records from the log start: what a load
	// would read. Guarded by mu.
	logRecords int
	// seq numbers the shard's writes; pending counts the offset commits
	// written and waiting for the in-sync replicas outside mu; written
	// maps each key written while some are pending to its last write's
	// seq (emptied when none is). Guarded by mu.
	seq     uint64
	pending int
	written map[string]uint64
	// txns are the producers with offsets pending in the shard's groups
	// (TxnOffsetCommit, until their marker). Guarded by mu.
	txns map[int64]*openTxn
}

// New returns a coordinator whose state lives in the logs open returns,
// where logs[i] is partition i of __consumer_offsets. open first runs at
// Load or at the first request that needs group state (Kafka creates
// __consumer_offsets on the first FindCoordinator, so a broker nobody
// uses groups on never has it); until then reads see no groups. A
// clustered coordinator calls it again at each SetLeadership(p, true).
func New(cfg Config, open func() ([]Log, error), topics Topics, clock Clock, log *slog.Logger) *Coordinator {
	return &Coordinator{cfg: cfg, open: open, topics: topics, clock: clock, log: log}
}

// allShards returns the shards, nil when not opened yet.
func (c *Coordinator) allShards() []*shard {
	if p := c.shards.Load(); p != nil {
		return *p
	}
	return nil
}

// Ensure opens and loads the group state if that has not happened yet.
func (c *Coordinator) Ensure() error {
	if c.shards.Load() != nil {
		return nil
	}
	_, err := c.Load()
	switch {
	case errors.Is(err, topics.ErrTopicExists):
		// Another broker of the cluster created __consumer_offsets
		// first and this one has not applied it yet: the caller may
		// catch up and try again.
		c.log.Info("__consumer_offsets was created by another broker; not applied here yet", "err", err)
	case err != nil:
		c.log.Error("group coordinator state unavailable", "err", err)
	}
	return err
}

// peekShard returns the shard of group, or nil when nothing is open.
func (c *Coordinator) peekShard(group string) *shard {
	all := c.allShards()
	if len(all) == 0 {
		return nil
	}
	return all[PartitionFor(group, int32(len(all)))]
}

// serve returns the shard of group locked, or the error code to answer
// with nothing locked. On a single node, open=true opens the state if
// needed (an error answers COORDINATOR_NOT_AVAILABLE) and open=false
// returns (nil, 0) when nothing is open yet: the caller answers as for an
// unknown group. In a cluster nothing is opened: a shard that is not
// open, or not active, is not this broker's to serve.
func (c *Coordinator) serve(group string, open bool) (*shard, int16) {
	if !c.cfg.Clustered {
		if open {
			if err := c.Ensure(); err != nil {
				return nil, ErrCoordinatorNotAvail.Code
			}
		}
		s := c.peekShard(group)
		if s != nil {
			s.mu.Lock()
		}
		return s, 0
	}
	s := c.peekShard(group)
	if s == nil {
		return nil, ErrNotCoordinator.Code
	}
	s.mu.Lock()
	switch s.state {
	case active:
		return s, 0
	case loading:
		s.mu.Unlock()
		return nil, ErrLoadInProgress.Code
	default:
		s.mu.Unlock()
		return nil, ErrNotCoordinator.Code
	}
}

// Owns reports whether this coordinator serves group now: always on a
// single node, only while leading (and loaded) its partition in a cluster.
func (c *Coordinator) Owns(group string) bool {
	if !c.cfg.Clustered {
		return true
	}
	s, code := c.serve(group, false)
	if code != 0 {
		return false
	}
	s.mu.Unlock()
	return true
}

// PartitionFor is the __consumer_offsets partition of a group, computed as
// Kafka does so that every implementation agrees.
func PartitionFor(group string, partitions int32) int32 {
	var h int32
	for _, r := range utf16Units(group) {
		h = 31*h + int32(r)
	}
	if h == -2147483648 { // Kafka's Utils.abs maps MinValue to 0
		return 0
	}
	if h < 0 {
		h = -h
	}
	return h % partitions
}

// utf16Units returns s as Java's String.hashCode sees it: UTF-16 units.
func utf16Units(s string) []uint16 {
	out := make([]uint16, 0, len(s))
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			out = append(out, uint16(0xD800+(r>>10)), uint16(0xDC00+(r&0x3FF)))
			continue
		}
		out = append(out, uint16(r))
	}
	return out
}

func newMemberID(clientID string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return fmt.Sprintf("%s-%s", clientID, hex.EncodeToString(b[:]))
}

// Tick acts on every deadline that has passed: expired sessions and
// pending member ids, ended rebalance timeouts and initial delays.
func (c *Coordinator) Tick() {
	now := c.clock.Now()
	for _, s := range c.allShards() {
		s.mu.Lock()
		for _, g := range s.groups { // empty unless active
			s.tickGroup(g, now)
		}
		s.mu.Unlock()
	}
}

// Run calls Tick every tick and ExpireOffsets every expireEvery until ctx
// ends.
func (c *Coordinator) Run(ctx context.Context, tick, expireEvery time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	lastExpire := c.clock.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.Tick()
			if now := c.clock.Now(); now.Sub(lastExpire) >= expireEvery {
				lastExpire = now
				c.ExpireOffsets()
			}
		}
	}
}

// Shutdown answers every waiting JoinGroup and SyncGroup with
// COORDINATOR_NOT_AVAILABLE, so clients look for the coordinator again.
func (c *Coordinator) Shutdown() {
	for _, s := range c.allShards() {
		s.mu.Lock()
		for _, g := range s.groups {
			for _, m := range g.members {
				s.failWaiters(m, ErrCoordinatorNotAvail.Code)
			}
		}
		s.mu.Unlock()
	}
}
