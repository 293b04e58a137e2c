package follower

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/storage"
	"github.com/kafki/kafki/brokerd/topics"
)

// fetcher follows the partitions led by one broker. parts is guarded by
// mu; the other fields are set by startFetcher and read-only after (wake
// is a channel, safe by itself).
type fetcher struct {
	o      Options
	leader int32
	addr   string
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{} // closed when run returned

	mu    sync.Mutex
	parts map[*topics.Partition]fstate // guarded by mu
	wake  chan struct{}                // buffered(1)
}

func startFetcher(o Options, leader int32, addr string) *fetcher {
	ctx, cancel := context.WithCancel(context.Background())
	f := &fetcher{o: o, leader: leader, addr: addr, cancel: cancel, done: make(chan struct{}),
		parts: map[*topics.Partition]fstate{}, wake: make(chan struct{}, 1)}
	cl, err := o.Clients.Replica(addr)
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
				f.o.Log.Debug("replica truncation request failed", "leader", f.leader, "err", err)
				f.pause(ctx)
			}
			continue
		}
		if err := f.fetch(ctx, broker, fetch, parts); err != nil && ctx.Err() == nil {
			f.o.Log.Debug("replica fetch failed", "leader", f.leader, "err", err)
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
	req.ReplicaID = f.o.Self
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
				f.o.Log.Info("truncating divergent tail", "topic", p.Topic, "partition", p.Index, "from", p.Log().LogEndOffset(), "to", cut, "leader.epoch", epoch)
				if err := f.truncate(p, cut); err != nil {
					f.o.Log.Error("truncate follower log", "topic", p.Topic, "partition", p.Index, "err", err)
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
	req.ReplicaID = f.o.Self
	req.ReplicaState.ID = f.o.Self
	req.ReplicaState.Epoch = f.o.SessionEpoch()
	req.MaxWaitMillis = int32(f.o.FetchWaitMax.Milliseconds())
	req.MinBytes = 1
	req.MaxBytes = 4 * f.o.FetchMaxBytes
	req.SessionEpoch = -1
	byTopic := map[string]int{}
	byKey := map[tp]*topics.Partition{}
	for _, p := range ps {
		t := f.o.Topics.Topic(p.Topic)
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
		rp.PartitionMaxBytes = f.o.FetchMaxBytes
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
		byKey[tp{p.Topic, p.Index}] = p
	}
	if len(req.Topics) == 0 {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, f.o.FetchWaitMax+10*time.Second)
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
			if t := f.o.Topics.TopicByID(rt.TopicID); t != nil {
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
			f.o.Log.Warn("follower behind the leader's log start; restarting the log there", "topic", p.Topic, "partition", p.Index, "from", leo, "to", rp.LogStartOffset)
			if err := p.Log().TruncateFullyAndStartAt(rp.LogStartOffset); err != nil {
				f.o.Log.Error("reset follower log", "topic", p.Topic, "partition", p.Index, "err", err)
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
		_, err := p.Log().AppendReplica(rp.RecordBatches, f.o.FlushOnAck)
		if errors.Is(err, storage.ErrOffsetMismatch) {
			f.update(p, epoch, func(st *fstate) { st.truncated = false })
			return
		}
		if err != nil {
			f.o.Log.Error("append replicated records", "topic", p.Topic, "partition", p.Index, "err", err)
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
		f.o.Log.Warn("advance follower log start", "topic", p.Topic, "partition", p.Index, "to", target, "err", err)
		return
	}
	f.o.Log.Debug("follower log start advanced", "topic", p.Topic, "partition", p.Index, "leader.start", leaderStart, "start", start)
}
