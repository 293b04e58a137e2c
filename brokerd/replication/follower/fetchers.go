package follower

import (
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/brokerd/meta"
	"github.com/kafki/kafki/brokerd/topics"
)

// retryPause is how long a failed request, or a partition whose request
// failed, waits before the next attempt.
const retryPause = 200 * time.Millisecond

// Options are what the Fetchers need: this broker's identity, the local
// partitions, clients of the leaders, and the replica fetch settings.
type Options struct {
	// Self is this broker's id, the replica id of its fetches.
	Self int32
	// SessionEpoch returns the epoch of this broker's session lease (0:
	// none), sent with every replica fetch (ReplicaState, KIP-903).
	SessionEpoch func() int64
	// Topics finds the local topics by name and id (*topics.Manager).
	Topics Topics
	// Clients builds the connection to a leader (*interbroker.Factory).
	Clients Clients
	// FetchMaxBytes is replica.fetch.max.bytes: per partition; a fetch
	// asks for four times as much over all its partitions.
	FetchMaxBytes int32
	// FetchWaitMax is replica.fetch.wait.max: how long a fetch long-polls.
	FetchWaitMax time.Duration
	// FlushOnAck is log.flush.on.ack: fsync what is copied before the
	// next fetch reports it (and so before it counts for acks=all).
	FlushOnAck bool
	// Log receives the fetchers' messages.
	Log *slog.Logger
}

// Topics finds local topics; *topics.Manager implements it.
type Topics interface {
	Topic(name string) *topics.Topic
	TopicByID(id meta.TopicID) *topics.Topic
}

// Clients builds broker-to-broker clients; *interbroker.Factory
// implements it.
type Clients interface {
	// Replica returns a client of the leader at addr for replica fetches.
	Replica(addr string) (*kgo.Client, error)
}

type tp struct {
	topic string
	part  int32
}

// Fetchers runs one fetcher per leader broker this broker follows
// partitions of, as Kafka's replica fetcher threads do: one connection and
// one long-polling Fetch per leader, whatever the number of partitions.
// Safe for concurrent use.
type Fetchers struct {
	o Options // read-only

	mu       sync.Mutex
	addrs    map[int32]string             // broker id -> address; guarded by mu
	byLeader map[int32]*fetcher           // guarded by mu
	leaderOf map[*topics.Partition]int32  // guarded by mu
	pending  map[*topics.Partition]fstate // leader address unknown yet; guarded by mu
}

// fstate is one followed partition. A value: the copies in
// Fetchers.pending and fetcher.parts are guarded by their map's mutex,
// and a fetcher works on copies (fetcher.all) and writes back through
// fetcher.update.
type fstate struct {
	leader    int32
	epoch     int32
	truncated bool      // the tail was reconciled with this leader epoch
	backoff   time.Time // left out of requests until then
}

// New returns Fetchers that follow nothing yet.
func New(o Options) *Fetchers {
	return &Fetchers{o: o, addrs: map[int32]string{}, byLeader: map[int32]*fetcher{},
		leaderOf: map[*topics.Partition]int32{}, pending: map[*topics.Partition]fstate{}}
}

// Add starts following p from leader at epoch (again: the tail is
// reconciled first). Until SetBrokers gave the leader's address, p
// waits.
func (fs *Fetchers) Add(p *topics.Partition, leader, epoch int32) {
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
		f = startFetcher(fs.o, leader, addr)
		fs.byLeader[leader] = f
	}
	f.set(p, st)
	fs.leaderOf[p] = leader
}

// Remove stops following p.
func (fs *Fetchers) Remove(p *topics.Partition) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.removeLocked(p)
}

func (fs *Fetchers) removeLocked(p *topics.Partition) {
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

// SetBrokers installs the brokers' addresses (broker id -> host:port;
// the map is the Fetchers' from now on); fetchers whose leader moved are
// restarted and pending partitions start.
func (fs *Fetchers) SetBrokers(addrs map[int32]string) {
	fs.mu.Lock()
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
		fs.Add(p, states[i].leader, states[i].epoch)
	}
}

// Retain stops following every partition keep rejects: those of deleted
// topics (a topic re-created under the same name has new partitions).
func (fs *Fetchers) Retain(keep func(*topics.Partition) bool) {
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

// StopAll stops following every partition. It does not wait for the
// fetchers' in-flight requests: their clients are closed, which fails
// them.
func (fs *Fetchers) StopAll() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for id, f := range fs.byLeader {
		f.stop()
		delete(fs.byLeader, id)
	}
	fs.leaderOf = map[*topics.Partition]int32{}
	fs.pending = map[*topics.Partition]fstate{}
}
