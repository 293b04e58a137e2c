package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"

	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/groups"
	"github.com/kafki/kafki/brokerd/internal/bufpool"
	"github.com/kafki/kafki/brokerd/metrics"
	"github.com/kafki/kafki/brokerd/topics"
)

// currentLeaderEpoch is this node's leader epoch for every partition, as
// stamped on appended batches (storage.AppendOptions.LeaderEpoch's zero
// value), until the cluster's controller assigns real ones.
const currentLeaderEpoch = 0

// Server is the Kafka protocol front end of one broker.
type Server struct {
	cfg     *config.Config
	topics  *topics.Manager
	groups  *groups.Coordinator // nil: group APIs answer COORDINATOR_NOT_AVAILABLE
	cluster Cluster             // nil on a single node
	log     *slog.Logger
	metrics *metrics.Metrics

	bufs bufpool.Pool // request frames, fetch reads and large responses

	byKey    map[int16]api // immutable after New
	versions []api         // sorted by key; immutable after New

	// host and port are what Metadata advertises.
	host string
	port int32

	// drain is cancelled when shutdown starts: long polls return at once.
	drain       context.Context
	cancelDrain context.CancelFunc

	mu    sync.Mutex
	ln    net.Listener       // guarded by mu
	conns map[*conn]struct{} // guarded by mu
	wg    sync.WaitGroup     // connection goroutines
}

// New builds a server over the given topics.
func New(cfg *config.Config, tm *topics.Manager, m *metrics.Metrics, log *slog.Logger) *Server {
	s := &Server{cfg: cfg, topics: tm, log: log, metrics: m, conns: map[*conn]struct{}{}, byKey: map[int16]api{}}
	s.versions = s.apis()
	for _, a := range s.versions {
		s.byKey[a.key] = a
	}
	s.drain, s.cancelDrain = context.WithCancel(context.Background())
	return s
}

// AdvertisedAddr is the host:port clients are told to connect to, known
// after Listen.
func (s *Server) AdvertisedAddr() string {
	return net.JoinHostPort(s.host, strconv.Itoa(int(s.port)))
}

// SetCoordinator installs the group coordinator. Call before Serve.
func (s *Server) SetCoordinator(c *groups.Coordinator) { s.groups = c }

// Listen binds the configured address and fixes the advertised one.
func (s *Server) Listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return nil, err
	}
	adv := s.cfg.AdvertisedAddr
	if adv == "" {
		adv = ln.Addr().String()
		if ap, err := netip.ParseAddrPort(adv); err == nil && ap.Addr().IsUnspecified() {
			adv = net.JoinHostPort("localhost", strconv.Itoa(int(ap.Port())))
		}
	}
	host, port, _ := net.SplitHostPort(adv)
	p, _ := strconv.Atoi(port)
	s.host, s.port = host, int32(p)
	return ln, nil
}

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.drain.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		c := newConn(s, nc)
		s.mu.Lock()
		if s.drain.Err() != nil {
			s.mu.Unlock()
			nc.Close()
			continue
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		s.metrics.Connections.Inc()
		go func() {
			defer s.wg.Done()
			c.serve()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			s.metrics.Connections.Dec()
		}()
	}
}

// Shutdown stops accepting, lets every connection finish the requests it
// has read (long polls return early), and closes connections. If ctx ends
// first the remaining connections are closed at once.
func (s *Server) Shutdown(ctx context.Context) {
	s.mu.Lock()
	s.cancelDrain()
	if s.ln != nil {
		s.ln.Close()
	}
	for c := range s.conns {
		c.stopReading()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.nc.Close()
		}
		s.mu.Unlock()
		<-done
	}
}
