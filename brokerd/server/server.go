package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/kafki/kafki/brokerd/auth"
	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/groups"
	"github.com/kafki/kafki/brokerd/internal/bufpool"
	"github.com/kafki/kafki/brokerd/metrics"
	"github.com/kafki/kafki/brokerd/sasl"
	"github.com/kafki/kafki/brokerd/tlsconf"
	"github.com/kafki/kafki/brokerd/topics"
)

// currentLeaderEpoch is the leader epoch of every partition on a single
// node (no controller assigns epochs there), as stamped on appended
// batches (storage.AppendOptions.LeaderEpoch's zero value).
const currentLeaderEpoch = 0

// Options are a server's settings and the components it serves, all given
// at construction (New); none can change afterwards.
type Options struct {
	NodeID    int32  // node.id: this broker
	ClusterID string // cluster.id, as Metadata and DescribeCluster report it
	// AdvertisedAddr is the host:port clients are told to connect to
	// (Metadata, FindCoordinator) on a listener that gives no address of
	// its own (Serve, or a Listener without Host).
	AdvertisedAddr string
	// ListenerName names the listener Serve accepts on; "PLAINTEXT" when
	// empty. ServeListener names its own.
	ListenerName             string
	AutoCreateTopics         bool   // auto.create.topics.enable
	DefaultReplicationFactor int16  // default.replication.factor, in a cluster
	MaxRequestBytes          int32  // socket.request.max.bytes: larger frames close the connection
	FlushOnAck               bool   // log.flush.on.ack: fsync before answering acks=all
	DataDir                  string // data.dir, as DescribeLogDirs reports it
	// RackAwareReads is replica.selector.class=RackAwareReplicaSelector:
	// a leader sends a consumer that names its rack (Fetch v11+) to an
	// in-sync follower in that rack (KIP-392). Followers serve such
	// consumers whatever the setting, as Kafka's do.
	RackAwareReads bool
	// TopicConfigs renders a topic's effective configs from its overrides
	// over the broker's defaults (topics.EffectiveConfigs), for
	// DescribeConfigs, CreateTopics v5+ and IncrementalAlterConfigs.
	TopicConfigs func(overrides map[string]string) []topics.ConfigEntry
	// BrokerConfigs are the broker's settings under Kafka's names
	// (config.Config.KafkaConfigs), which DescribeConfigs of this broker
	// lists.
	BrokerConfigs []config.KafkaConfig

	Topics *topics.Manager
	// Groups coordinates consumer groups; nil: the group APIs answer
	// COORDINATOR_NOT_AVAILABLE.
	Groups *groups.Coordinator
	// Txn is the transaction coordinator; nil: transactional ids are
	// refused.
	Txn Txn
	// TransactionVersion is the transaction.version feature offered to
	// clients with Txn (config.Config.TransactionVersion): 2 advertises
	// EndTxn v5 and adds a transactional produce's partition itself.
	TransactionVersion int16
	// Cluster is the broker's cluster membership; nil on a single node.
	Cluster Cluster
	// Authorizer decides every request's actions; nil allows everything
	// (auth.AllowAll).
	Authorizer auth.Authorizer
	Metrics    *metrics.Metrics
	Log        *slog.Logger

	// SASL authenticates the connections of SASL_PLAINTEXT and SASL_SSL
	// listeners (sasl.go); nil: no mechanism is enabled and their clients
	// cannot authenticate.
	SASL *SASLOptions
	// Users are the SCRAM users AlterUserScramCredentials and
	// DescribeUserScramCredentials manage; nil: those APIs answer that
	// this broker has no user store.
	Users *sasl.Cache
}

// Server is the Kafka protocol front end of one broker.
type Server struct {
	opts    Options
	topics  *topics.Manager
	groups  *groups.Coordinator // nil: group APIs answer COORDINATOR_NOT_AVAILABLE
	txn     Txn                 // nil: transactional ids are refused
	cluster Cluster             // nil on a single node
	authz   auth.Authorizer
	// allowAll is set when authz is auth.AllowAll: handlers then ask
	// nothing, so the default costs no allocation per request.
	allowAll bool
	log      *slog.Logger
	metrics  *metrics.Metrics

	bufs bufpool.Pool // request frames, fetch reads and large responses

	saslFails *failureBackoff // per-address backoff of failed SASL authentications (sasl.go)

	byKey    map[int16]api // immutable after New
	versions []api         // sorted by key; immutable after New

	// host and port are what Metadata advertises (Options.AdvertisedAddr).
	host string
	port int32

	// drain is cancelled when shutdown starts: long polls return at once.
	drain       context.Context
	cancelDrain context.CancelFunc

	mu    sync.Mutex
	lns   []net.Listener     // guarded by mu: every listener being served
	conns map[*conn]struct{} // guarded by mu
	wg    sync.WaitGroup     // connection goroutines
}

// New builds a server; it serves once Serve is given a listener.
func New(o Options) (*Server, error) {
	host, port, err := net.SplitHostPort(o.AdvertisedAddr)
	if err != nil {
		return nil, fmt.Errorf("advertised address %q: %w", o.AdvertisedAddr, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("advertised address %q: port: %w", o.AdvertisedAddr, err)
	}
	if o.ListenerName == "" {
		o.ListenerName = string(auth.Plaintext)
	}
	if o.Authorizer == nil {
		o.Authorizer = auth.AllowAll{}
	}
	if o.TopicConfigs == nil {
		o.TopicConfigs = func(map[string]string) []topics.ConfigEntry { return nil }
	}
	s := &Server{
		opts: o, topics: o.Topics, groups: o.Groups, txn: o.Txn, cluster: o.Cluster, authz: o.Authorizer,
		log: o.Log, metrics: o.Metrics, host: host, port: int32(p),
		conns: map[*conn]struct{}{}, byKey: map[int16]api{},
	}
	switch o.Authorizer.(type) {
	case auth.AllowAll, *auth.AllowAll:
		s.allowAll = true
	}
	s.saslFails = newFailureBackoff(o.SASL)
	s.versions = s.apis()
	for _, a := range s.versions {
		s.byKey[a.key] = a
	}
	s.drain, s.cancelDrain = context.WithCancel(context.Background())
	return s, nil
}

// Listener is what a server knows about one of the broker's listeners:
// its name (as listener names go in Kafka: "PLAINTEXT", "CLIENT",
// "REPLICATION") and its security protocol, which every connection
// accepted on it carries in its session; its TLS configuration when the
// protocol is SSL or SASL_SSL; and the address clients of it are told to
// connect to.
type Listener struct {
	Name     string
	Protocol auth.SecurityProtocol
	// Host and Port are this broker's advertised address on the
	// listener, which Metadata, FindCoordinator and DescribeCluster
	// answer on a single node (in a cluster every broker's endpoint of
	// this listener's name comes from its registration). Empty Host:
	// Options.AdvertisedAddr.
	Host string
	Port int32
	// TLS, set exactly when Protocol is SSL or SASL_SSL, is the server
	// side of the listener's TLS (package tlsconf). Each connection
	// handshakes before its first request is read.
	TLS *tls.Config
	// Principals maps a verified client certificate's subject (RFC 2253)
	// to the session's principal on an SSL listener (Kafka's
	// ssl.principal.mapping.rules); nil: the subject unchanged. A
	// subject no rule maps fails the connection. On an SSL listener
	// without a client certificate the principal stays ANONYMOUS; on
	// SASL_SSL it is SASL's to set.
	Principals *tlsconf.PrincipalMapper
	// HandshakeTimeout bounds the TLS handshake (and so how long a
	// client that sends nothing, or plaintext, holds a connection);
	// zero: DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
}

// DefaultHandshakeTimeout bounds a TLS handshake when the listener sets
// no HandshakeTimeout.
const DefaultHandshakeTimeout = 10 * time.Second

// IsTLS reports whether the listener's connections are TLS (SSL and
// SASL_SSL).
func (l *Listener) IsTLS() bool { return l.Protocol == auth.SSL || l.Protocol == auth.SASLSSL }

// IsSASL reports whether the listener's connections authenticate with
// SASL (SASL_PLAINTEXT and SASL_SSL).
func (l *Listener) IsSASL() bool {
	return l.Protocol == auth.SASLPlaintext || l.Protocol == auth.SASLSSL
}

// Serve accepts connections on ln as the PLAINTEXT listener
// Options.ListenerName until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	return s.ServeListener(ln, Listener{Name: s.opts.ListenerName, Protocol: auth.Plaintext})
}

// ServeListener accepts connections on ln as listener l until Shutdown. A
// server may serve several listeners at once, one ServeListener each.
func (s *Server) ServeListener(ln net.Listener, l Listener) error {
	if l.IsTLS() != (l.TLS != nil) {
		ln.Close()
		return fmt.Errorf("listener %s: protocol %s with TLS config %v", l.Name, l.Protocol, l.TLS != nil)
	}
	if l.Host == "" {
		l.Host, l.Port = s.host, s.port
	}
	if l.HandshakeTimeout <= 0 {
		l.HandshakeTimeout = DefaultHandshakeTimeout
	}
	s.mu.Lock()
	s.lns = append(s.lns, ln)
	drained := s.drain.Err() != nil
	s.mu.Unlock()
	if drained {
		// Shutdown came first.
		ln.Close()
		return nil
	}
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
		if l.TLS != nil {
			// The handshake runs on the connection's goroutine (serve),
			// so a slow client never holds up the accept loop.
			nc = tls.Server(nc, l.TLS)
		}
		c := newConn(s, nc, &l)
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
	for _, ln := range s.lns {
		ln.Close()
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
