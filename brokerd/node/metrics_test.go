package node_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kafki/kafki/brokerd/broker"
	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/internal/poll"
)

// metric sums a broker's series of one metric (a counter or a gauge),
// those with the given label name/value pairs only.
func metric(t *testing.T, b *broker.Broker, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := b.Metrics().Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var v float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if hasLabels(m.GetLabel(), labels) {
				v += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return v
}

// hasLabels reports whether ls has every name/value pair of want.
func hasLabels(ls []*dto.LabelPair, want []string) bool {
	for i := 0; i+1 < len(want); i += 2 {
		if !slices.ContainsFunc(ls, func(l *dto.LabelPair) bool { return l.GetName() == want[i] && l.GetValue() == want[i+1] }) {
			return false
		}
	}
	return true
}

// proxy forwards connections to a broker's listener, which it learns
// once the broker started (connections wait for it); while blocked it
// drops every connection, as a network partition around that broker
// would, without touching its DynamoDB traffic.
type proxy struct {
	ln     net.Listener
	target chan string // receives the broker's address once

	mu      sync.Mutex
	addr    string     // guarded by mu; "" until target is received
	blocked bool       // guarded by mu
	conns   []net.Conn // guarded by mu; open while not blocked
}

func newProxy(t *testing.T) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: make(chan string, 1)}
	t.Cleanup(func() { ln.Close(); p.block() })
	go p.serve()
	return p
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.forward(c)
	}
}

func (p *proxy) forward(c net.Conn) {
	p.mu.Lock()
	if p.addr == "" {
		p.mu.Unlock()
		select {
		case a := <-p.target:
			p.mu.Lock()
			p.addr = a
		case <-time.After(30 * time.Second):
			c.Close()
			return
		}
	}
	addr, blocked := p.addr, p.blocked
	p.mu.Unlock()
	if blocked {
		c.Close()
		return
	}
	up, err := net.Dial("tcp", addr)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, c, up)
	p.mu.Unlock()
	go func() { _, _ = io.Copy(up, c); up.Close() }()
	_, _ = io.Copy(c, up)
	c.Close()
}

// setTarget gives the proxy its broker's address.
func (p *proxy) setTarget(addr string) { p.target <- addr }

// block drops every connection until unblock.
func (p *proxy) block() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blocked = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) unblock() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blocked = false
}

// TestReplicationMetrics: when a leader's followers cannot reach it (a
// network partition around the leader, their sessions still renewed),
// the leader shrinks the ISR, counts it, and reports the partition
// under-replicated and under min.insync.replicas; when they reach it
// again they rejoin, the expansion is counted and both gauges return
// to 0. One broker is the active controller; a partition whose only
// replica stops is offline, as the controller reports, until the
// replica is back.
func TestReplicationMetrics(t *testing.T) {
	proxies := map[int32]*proxy{}
	for id := int32(1); id <= 3; id++ {
		proxies[id] = newProxy(t)
	}
	c := newClusterWith(t, 3, func(cfg *config.Config) {
		// Peers and clients reach each broker through its proxy.
		cfg.AdvertisedAddr = proxies[cfg.NodeID].ln.Addr().String()
	})
	for id, b := range c.brokers {
		proxies[id].setTarget(b.Addr())
	}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	adm := kadm.NewClient(c.client())
	if res, err := adm.CreateTopic(ctx, 1, 3, map[string]*string{"min.insync.replicas": kadm.StringPtr("2")}, "urp"); err != nil || res.Err != nil {
		t.Fatalf("create: %v %v", err, res.Err)
	}
	c.waitPlaced(ctx, "urp", 1, 3)
	poll.Must(t, 10*time.Second, "one active controller, nothing under-replicated or offline", func() error {
		active := 0.0
		for id, b := range c.brokers {
			active += metric(t, b, "kafki_active_controller")
			for _, name := range []string{"kafki_under_replicated_partitions", "kafki_under_min_isr_partitions", "kafki_offline_partitions"} {
				if v := metric(t, b, name); v != 0 {
					return fmt.Errorf("broker %d: %s %v", id, name, v)
				}
			}
		}
		if active != 1 {
			return fmt.Errorf("%v active controllers", active)
		}
		return nil
	})

	md, err := adm.Metadata(ctx, "urp")
	if err != nil {
		t.Fatal(err)
	}
	id := md.Topics["urp"].Partitions[0].Leader
	leader := c.brokers[id]
	shrinks, expands := metric(t, leader, "kafki_isr_shrinks_total"), metric(t, leader, "kafki_isr_expands_total")
	proxies[id].block()
	poll.Must(t, 20*time.Second, "the leader shrinks the ISR and reports the partition under-replicated", func() error {
		urp, umi := metric(t, leader, "kafki_under_replicated_partitions"), metric(t, leader, "kafki_under_min_isr_partitions")
		s := metric(t, leader, "kafki_isr_shrinks_total")
		if urp < 1 || umi < 1 || s <= shrinks {
			return fmt.Errorf("under-replicated %v, under min ISR %v, shrinks %v (before: %v)", urp, umi, s, shrinks)
		}
		return nil
	})
	proxies[id].unblock()
	poll.Must(t, 20*time.Second, "the followers rejoin", func() error {
		urp, umi := metric(t, leader, "kafki_under_replicated_partitions"), metric(t, leader, "kafki_under_min_isr_partitions")
		e := metric(t, leader, "kafki_isr_expands_total")
		if urp != 0 || umi != 0 || e <= expands {
			return fmt.Errorf("under-replicated %v, under min ISR %v, expands %v (before: %v)", urp, umi, e, expands)
		}
		return nil
	})

	// A partition whose only replica stops has no leader: offline.
	if res, err := adm.CreateTopic(ctx, 1, 1, nil, "solo"); err != nil || res.Err != nil {
		t.Fatalf("create: %v %v", err, res.Err)
	}
	c.waitPlaced(ctx, "solo", 1, 1)
	md, err = adm.Metadata(ctx, "solo")
	if err != nil {
		t.Fatal(err)
	}
	solo := md.Topics["solo"].Partitions[0].Leader
	if err := c.brokers[solo].Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	delete(c.brokers, solo)
	offline := func(want float64) func() error {
		return func() error {
			var active, off float64
			for _, b := range c.brokers {
				a := metric(t, b, "kafki_active_controller")
				active += a
				if a == 1 {
					off = metric(t, b, "kafki_offline_partitions")
				} else if v := metric(t, b, "kafki_offline_partitions"); v != 0 {
					return fmt.Errorf("a broker that is not the controller reports %v offline partitions", v)
				}
			}
			if active != 1 || off != want {
				return fmt.Errorf("%v active controllers, %v offline partitions, want 1 and %v", active, off, want)
			}
			return nil
		}
	}
	poll.Must(t, 20*time.Second, "the controller reports the partition offline", offline(1))
	proxies[solo] = newProxy(t)
	proxies[solo].setTarget(c.start(solo).Addr())
	poll.Must(t, 20*time.Second, "the partition is back online", offline(0))
}
