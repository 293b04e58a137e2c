package chaos

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/internal/clusterproc"
	"github.com/kafki/kafki/internal/poll"
)

// pollEvery is how often the test re-reads another process's state while
// waiting for a condition: there is no event to wait on across processes.
const pollEvery = 50 * time.Millisecond

// askTimeout bounds one metadata request to one broker.
const askTimeout = time.Second

// partView is one broker's view of one partition.
type partView struct {
	leader int32
	epoch  int32
	isr    []int32
}

// harness drives the cluster: it asks individual brokers for metadata
// and remembers which brokers are down (killed or paused), so the test
// never waits on an answer from a broker that cannot give one.
type harness struct {
	t *testing.T
	c *clusterproc.Cluster

	admins map[int32]*kgo.Client // each talks to its broker only

	mu   sync.Mutex
	down map[int32]bool
}

func newHarness(t *testing.T, c *clusterproc.Cluster) (*harness, error) {
	h := &harness{t: t, c: c, admins: map[int32]*kgo.Client{}, down: map[int32]bool{}}
	for _, p := range c.Brokers() {
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(p.Addr()), kgo.DialTimeout(dialTimeout)}, c.ClientOpts()...)...)
		if err != nil {
			h.close()
			return nil, fmt.Errorf("admin client of broker %d: %w", p.ID(), err)
		}
		h.admins[p.ID()] = cl
	}
	return h, nil
}

func (h *harness) close() {
	for _, cl := range h.admins {
		cl.Close()
	}
}

func (h *harness) setDown(id int32, down bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.down[id] = down
}

// up returns the brokers that are neither killed nor paused.
func (h *harness) up() []int32 {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []int32
	for _, p := range h.c.Brokers() {
		if !h.down[p.ID()] {
			out = append(out, p.ID())
		}
	}
	return out
}

// metadataOf asks broker id, and only it, for the topic's partitions.
func (h *harness) metadataOf(ctx context.Context, id int32) (map[int32]partView, error) {
	ctx, cancel := context.WithTimeout(ctx, askTimeout)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := h.admins[id].SeedBrokers()[0].Request(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("metadata from broker %d: %w", id, err)
	}
	md := resp.(*kmsg.MetadataResponse)
	if len(md.Topics) != 1 {
		return nil, fmt.Errorf("metadata from broker %d: %d topics, want 1", id, len(md.Topics))
	}
	if err := kerr.ErrorForCode(md.Topics[0].ErrorCode); err != nil {
		return nil, fmt.Errorf("metadata from broker %d: %w", id, err)
	}
	out := map[int32]partView{}
	for _, p := range md.Topics[0].Partitions {
		// LEADER_NOT_AVAILABLE comes with leader -1: an offline
		// partition is a view, not a failure to get one.
		out[p.Partition] = partView{leader: p.Leader, epoch: p.LeaderEpoch, isr: slices.Clone(p.ISR)}
	}
	return out, nil
}

// views asks every up broker; it fails if any up broker does not answer.
func (h *harness) views(ctx context.Context) (map[int32]map[int32]partView, error) {
	out := map[int32]map[int32]partView{}
	for _, id := range h.up() {
		v, err := h.metadataOf(ctx, id)
		if err != nil {
			return nil, err
		}
		out[id] = v
	}
	return out, nil
}

// healTimeout bounds every wait for the cluster to recover.
const healTimeout = 60 * time.Second

// waitHealthy waits until every up broker reports, for every partition,
// the same leader and epoch, a leader that is up, and a full ISR.
func (h *harness) waitHealthy(ctx context.Context) error {
	return poll.WithinEvery(ctx, healTimeout, pollEvery, "every partition led with a full ISR on every broker", func() error {
		vs, err := h.views(ctx)
		if err != nil {
			return err
		}
		up := h.up()
		var ref map[int32]partView
		for id, v := range vs {
			for p := range int32(partitions) {
				pv, ok := v[p]
				switch {
				case !ok:
					return fmt.Errorf("broker %d does not list partition %d", id, p)
				case !slices.Contains(up, pv.leader):
					return fmt.Errorf("broker %d: partition %d led by %d, not an up broker", id, p, pv.leader)
				case len(pv.isr) != replicas:
					return fmt.Errorf("broker %d: partition %d ISR %v", id, p, pv.isr)
				case ref != nil && (ref[p].leader != pv.leader || ref[p].epoch != pv.epoch):
					return fmt.Errorf("brokers disagree on partition %d: leader %d epoch %d vs leader %d epoch %d", p, ref[p].leader, ref[p].epoch, pv.leader, pv.epoch)
				}
			}
			ref = v
		}
		return nil
	})
}

// leaders returns each partition's leader as the up brokers report it,
// the highest epoch winning (a broker's view may lag).
func (h *harness) leaders(ctx context.Context) (map[int32]partView, error) {
	vs, err := h.views(ctx)
	if err != nil {
		return nil, err
	}
	best := map[int32]partView{}
	for _, v := range vs {
		for p, pv := range v {
			if b, ok := best[p]; !ok || pv.epoch > b.epoch {
				best[p] = pv
			}
		}
	}
	return best, nil
}

// ledBy returns the partitions broker id leads.
func ledBy(ls map[int32]partView, id int32) []int32 {
	var out []int32
	for p, pv := range ls {
		if pv.leader == id {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}
