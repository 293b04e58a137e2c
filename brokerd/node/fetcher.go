package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/cluster"
	"github.com/kafki/kafki/brokerd/storage"
	"github.com/kafki/kafki/brokerd/topics"
)

// fetchers runs one fetcher per leader broker this broker follows
// partitions of, as Kafka's replica fetcher threads do: one connection and
// one long-polling Fetch per leader, whatever the number of partitions.
type fetchers struct {
	n *Node

	mu       sync.Mutex
	addrs    map[int32]string             // broker id -> address; guarded by mu
	byLeader map[int32]*fetcher           // guarded by mu
	leaderOf map[*topics.Partition]int32  // guarded by mu
	pending  map[*topics.Partition]fstate // leader address unknown yet; guarded by mu
}

// fstate is one followed partition.
type fstate struct {
	leader    int32
	epoch     int32
	truncated bool // the tail was reconciled with this leader epoch
	backoff   time.Time
}

func newFetchers(n *Node) *fetchers {
	return &fetchers{n: n, addrs: map[int32]string{}, byLeader: map[int32]*fetcher{},
		leaderOf: map[*topics.Partition]int32{}, pending: map[*topics.Partition]fstate{}}
}

// add starts following p from leader at epoch (again: the tail is
// reconciled first).
func (fs *fetchers) add(p *topics.Partition, leader, epoch int32) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.removeLocked(p)
	st := fstate{leader: leader, epoch: epoch}
	addr, ok := fs.addrs[leader]
	if !ok {
		fs.pending[p] = st
		return
	}
	f := fs.byLeader[leader]
	if f == nil || f.addr != addr {
		if f != nil {
			f.stop()
		}
		f = startFetcher(fs.n, leader, addr)
		fs.byLeader[leader] = f
	}
	f.set(p, st)
	fs.leaderOf[p] = leader
}

func (fs *fetchers) remove(p *topics.Partition) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.removeLocked(p)
}

func (fs *fetchers) removeLocked(p *topics.Partition) {
	delete(fs.pending, p)
	leader, ok := fs.leaderOf[p]
	if !ok {
		return
	}
	delete(fs.leaderOf, p)
	if f := fs.byLeader[leader]; f != nil && f.drop(p) == 0 {
		f.stop()
		delete(fs.byLeader, leader)
	}
}

// setBrokers installs the brokers' addresses; fetchers whose leader moved
// are restarted and pending partitions start.
func (fs *fetchers) setBrokers(brokers []cluster.BrokerInfo) {
	fs.mu.Lock()
	addrs := make(map[int32]string, len(brokers))
	for _, b := range brokers {
		addrs[b.ID] = b.Addr
	}
	fs.addrs = addrs
	var restart []*topics.Partition
	var states []fstate
	for id, f := range fs.byLeader {
		if addrs[id] != f.addr {
			for p, st := range f.all() {
				restart = append(restart, p)
				states = append(states, st)
			}
		}
	}
	for p, st := range fs.pending {
		restart = append(restart, p)
		states = append(states, st)
	}
	fs.mu.Unlock()
	for i, p := range restart {
		fs.add(p, states[i].leader, states[i].epoch)
	}
}

// retain stops following every partition keep rejects: those of deleted
// topics (a topic re-created under the same name has new partitions).
func (fs *fetchers) retain(keep func(*topics.Partition) bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for p := range fs.leaderOf {
		if !keep(p) {
			fs.removeLocked(p)
		}
	}
	for p := range fs.pending {
		if !keep(p) {
			delete(fs.pending, p)
		}
	}
}

func (fs *fetchers) stopAll() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for id, f := range fs.byLeader {
		f.stop()
		delete(fs.byLeader, id)
	}
	fs.leaderOf = map[*topics.Partition]int32{}
	fs.pending = map[*topics.Partition]fstate{}
}

// fetcher follows the partitions led by one broker.
type fetcher struct {
	n      *Node
	leader int32
	addr   string
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	parts map[*topics.Partition]fstate // guarded by mu
	wake  chan struct{}                // buffered(1)
}

func startFetcher(n *Node, leader int32, addr string) *fetcher {
	ctx, cancel := context.WithCancel(context.Background())
	f := &fetcher{n: n, leader: leader, addr: addr, cancel: cancel, done: make(chan struct{}),
		parts: map[*topics.Partition]fstate{}, wake: make(chan struct{}, 1)}
	cl, err := n.peers.Replica(addr)
	if err != nil {
		// Only invalid options fail here; they are constants.
		panic(fmt.Sprintf("replica fetcher client: %v", err))
	}
	f.cl = cl
	go func() { defer close(f.done); f.run(ctx) }()
	return f
}

func (f *fetcher) set(p *topics.Partition, st fstate) {
	f.mu.Lock()
	f.parts[p] = st
	f.mu.Unlock()
	f.poke()
}

func (f *fetcher) drop(p *topics.Partition) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.parts, p)
	return len(f.parts)
}

func (f *fetcher) all() map[*topics.Partition]fstate {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[*topics.Partition]fstate, len(f.parts))
	for p, st := range f.parts {
		out[p] = st
	}
	return out
}

func (f *fetcher) poke() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// stop ends the fetcher without waiting for an in-flight long poll: the
// client is closed, which fails it.
func (f *fetcher) stop() {
	f.cancel()
	go func() { <-f.done; f.cl.Close() }()
}

// update changes a partition's state if it is still followed at epoch.
func (f *fetcher) update(p *topics.Partition, epoch int32, fn func(*fstate)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if st, ok := f.parts[p]; ok && st.epoch == epoch {
		fn(&st)
		f.parts[p] = st
	}
}

func (f *fetcher) run(ctx context.Context) {
	broker := f.cl.SeedBrokers()[0]
	for ctx.Err() == nil {
		parts := f.all()
		now := time.Now()
		var truncate, fetch []*topics.Partition
		for p, st := range parts {
			switch {
			case now.Before(st.backoff):
			case !st.truncated:
				truncate = append(truncate, p)
			default:
				fetch = append(fetch, p)
			}
		}
		if len(truncate) == 0 && len(fetch) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-f.wake:
			case <-time.After(retryPause):
			}
			continue
		}
		if len(truncate) > 0 {
			if err := f.reconcile(ctx, broker, truncate, parts); err != nil && ctx.Err() == nil {
				f.n.log.Debug("replica truncation request failed", "leader", f.leader, "err", err)
				f.pause(ctx)
			}
			continue
		}
		if err := f.fetch(ctx, broker, fetch, parts); err != nil && ctx.Err() == nil {
			f.n.log.Debug("replica fetch failed", "leader", f.leader, "err", err)
			f.pause(ctx)
		}
	}
}

func (f *fetcher) pause(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(retryPause):
	}
}

func (f *fetcher) backoff(p *topics.Partition, epoch int32) {
	f.update(p, epoch, func(st *fstate) { st.backoff = time.Now().Add(retryPause) })
}

// reconcile asks the leader where this replica's latest epoch ends and
// truncates anything beyond (KIP-101, KIP-279).
func (f *fetcher) reconcile(ctx context.Context, broker *kgo.Broker, ps []*topics.Partition, parts map[*topics.Partition]fstate) error {
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.ReplicaID = f.n.self
	byTopic := map[string]int{}
	asked := map[tp]int32{}
	for _, p := range ps {
		latest := p.Log().LatestEpoch()
		if latest < 0 {
			// Nothing with an epoch here: an empty log, nothing to cut.
			f.update(p, parts[p].epoch, func(st *fstate) { st.truncated = true })
			continue
		}
		i, ok := byTopic[p.Topic]
		if !ok {
			i = len(req.Topics)
			byTopic[p.Topic] = i
			t := kmsg.NewOffsetForLeaderEpochRequestTopic()
			t.Topic = p.Topic
			req.Topics = append(req.Topics, t)
		}
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.Partition, rp.CurrentLeaderEpoch, rp.LeaderEpoch = p.Index, parts[p].epoch, latest
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
		asked[tp{p.Topic, p.Index}] = latest
	}
	if len(req.Topics) == 0 {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	r, err := broker.Request(rctx, req)
	if err != nil {
		return err
	}
	resp := r.(*kmsg.OffsetForLeaderEpochResponse)
	byKey := map[tp]*topics.Partition{}
	for _, p := range ps {
		byKey[tp{p.Topic, p.Index}] = p
	}
	for _, t := range resp.Topics {
		for _, rp := range t.Partitions {
			p := byKey[tp{t.Topic, rp.Partition}]
			if p == nil {
				continue
			}
			epoch := parts[p].epoch
			if rp.ErrorCode != 0 {
				f.backoff(p, epoch)
				continue
			}
			cut := rp.EndOffset
			if rp.LeaderEpoch < 0 {
				// The leader has no history at or before ours: keep what
				// is committed, as Kafka does.
				cut = p.HighWatermark()
			} else if rp.LeaderEpoch < asked[tp{t.Topic, rp.Partition}] {
				// KIP-279: the leader's epoch is older than ours; our
				// log may diverge earlier, where that epoch ended here.
				if _, ours := p.Log().EndOffsetForEpoch(rp.LeaderEpoch); ours >= 0 && ours < cut {
					cut = ours
				}
			}
			if cut >= 0 && cut < p.Log().LogEndOffset() {
				f.n.log.Info("truncating divergent tail", "topic", p.Topic, "partition", p.Index, "from", p.Log().LogEndOffset(), "to", cut, "leader.epoch", epoch)
				if err := f.truncate(p, cut); err != nil {
					f.n.log.Error("truncate follower log", "topic", p.Topic, "partition", p.Index, "err", err)
					f.backoff(p, epoch)
					continue
				}
			}
			f.update(p, epoch, func(st *fstate) { st.truncated = true })
		}
	}
	return nil
}

func (f *fetcher) truncate(p *topics.Partition, offset int64) error {
	if offset < p.Log().LogStartOffset() {
		return p.Log().TruncateFullyAndStartAt(offset)
	}
	return p.Log().TruncateTo(offset)
}

// fetch makes one long-polling replica fetch for ps and appends what
// comes back.
func (f *fetcher) fetch(ctx context.Context, broker *kgo.Broker, ps []*topics.Partition, parts map[*topics.Partition]fstate) error {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = f.n.self
	req.ReplicaState.ID = f.n.self
	req.ReplicaState.Epoch = f.n.sessionEpoch.Load()
	req.MaxWaitMillis = int32(f.n.cfg.ReplicaFetchWaitMax.Milliseconds())
	req.MinBytes = 1
	req.MaxBytes = 4 * f.n.cfg.ReplicaFetchMaxBytes
	req.SessionEpoch = -1
	byTopic := map[string]int{}
	byKey := map[tp]*topics.Partition{}
	for _, p := range ps {
		t := f.n.tm.Topic(p.Topic)
		if t == nil {
			continue
		}
		i, ok := byTopic[p.Topic]
		if !ok {
			i = len(req.Topics)
			byTopic[p.Topic] = i
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic, rt.TopicID = p.Topic, t.ID
			req.Topics = append(req.Topics, rt)
		}
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = p.Index
		rp.CurrentLeaderEpoch = parts[p].epoch
		rp.FetchOffset = p.Log().LogEndOffset()
		rp.LastFetchedEpoch = -1
		rp.LogStartOffset = p.Log().LogStartOffset()
		rp.PartitionMaxBytes = f.n.cfg.ReplicaFetchMaxBytes
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
		byKey[tp{p.Topic, p.Index}] = p
	}
	if len(req.Topics) == 0 {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, f.n.cfg.ReplicaFetchWaitMax+10*time.Second)
	defer cancel()
	r, err := broker.Request(rctx, req)
	if err != nil {
		return err
	}
	resp := r.(*kmsg.FetchResponse)
	if resp.ErrorCode != 0 {
		return kerr.ErrorForCode(resp.ErrorCode)
	}
	for _, rt := range resp.Topics {
		name := rt.Topic
		if name == "" {
			if t := f.n.tm.TopicByID(rt.TopicID); t != nil {
				name = t.Name
			}
		}
		for _, rp := range rt.Partitions {
			p := byKey[tp{name, rp.Partition}]
			if p == nil {
				continue
			}
			f.handle(p, parts[p].epoch, &rp)
		}
	}
	return nil
}

func (f *fetcher) handle(p *topics.Partition, epoch int32, rp *kmsg.FetchResponseTopicPartition) {
	switch err := kerr.ErrorForCode(rp.ErrorCode); {
	case err == nil:
	case errors.Is(err, kerr.OffsetOutOfRange):
		leo := p.Log().LogEndOffset()
		if rp.LogStartOffset > leo {
			// The leader deleted (or tiered away) what we lack: start
			// over at its log start.
			f.n.log.Warn("follower behind the leader's log start; restarting the log there", "topic", p.Topic, "partition", p.Index, "from", leo, "to", rp.LogStartOffset)
			if err := p.Log().TruncateFullyAndStartAt(rp.LogStartOffset); err != nil {
				f.n.log.Error("reset follower log", "topic", p.Topic, "partition", p.Index, "err", err)
			}
		} else {
			// Ahead of the leader: reconcile the tail again.
			f.update(p, epoch, func(st *fstate) { st.truncated = false })
		}
		return
	default:
		f.backoff(p, epoch)
		return
	}
	if len(rp.RecordBatches) > 0 {
		_, err := p.Log().AppendReplica(rp.RecordBatches, f.n.cfg.FlushOnAck)
		if errors.Is(err, storage.ErrOffsetMismatch) {
			f.update(p, epoch, func(st *fstate) { st.truncated = false })
			return
		}
		if err != nil {
			f.n.log.Error("append replicated records", "topic", p.Topic, "partition", p.Index, "err", err)
			f.backoff(p, epoch)
			return
		}
	}
	p.SetFollowerHW(rp.HighWatermark)
	f.followLogStart(p, rp.LogStartOffset)
}

// followLogStart advances the local log start to the leader's, as
// Kafka's follower does after each fetch (maybeIncrementLogStartOffset):
// without it a follower keeps everything the leader deleted (retention,
// DeleteRecords, the group coordinator dropping history after a
// snapshot), and a follower that takes over replays all of it. The start
// is logical (storage AdvanceLogStart): it lands exactly on the leader's,
// inside a segment if the leader's is (DeleteRecords), and the follower
// deletes its own segments once they lie entirely below it, whatever its
// segment boundaries. The new start never passes the high watermark: what
// is not committed may still be truncated and refetched. With remote
// storage it never passes what the remote tier holds either, so the
// follower never deletes the only local copy of data that has not been
// uploaded (the leader's start here is its local one, which its own local
// retention moves).
func (f *fetcher) followLogStart(p *topics.Partition, leaderStart int64) {
	l := p.Log()
	target := min(leaderStart, p.HighWatermark())
	if l.Config().RemoteStorage {
		target = min(target, l.RemoteEnd())
	}
	if target <= l.LogStartOffset() {
		return
	}
	start, err := l.AdvanceLogStart(target)
	if err != nil {
		f.n.log.Warn("advance follower log start", "topic", p.Topic, "partition", p.Index, "to", target, "err", err)
		return
	}
	f.n.log.Debug("follower log start advanced", "topic", p.Topic, "partition", p.Index, "leader.start", leaderStart, "start", start)
}
