// Package interbroker builds the Kafka clients one broker uses to talk to
// another: the follower's replica fetchers (package replication/follower)
// and the one-off requests of package node (asking peers whether they
// still list this broker during a controlled shutdown).
//
// It is the one place where broker-to-broker connections are configured,
// so that the inter-broker listener's security (TLS, mTLS, SASL) is added
// here once, in Options, and reaches every such connection. Every client
// it builds talks to one seed broker and never retries a request itself:
// its callers have their own retry loops, which look at the error.
package interbroker

import (
	"crypto/tls"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
)

// Timeouts to dial a peer.
const (
	// replicaDialTimeout bounds a replica fetcher's connection to its
	// leader.
	replicaDialTimeout = 5 * time.Second
	// peerDialTimeout bounds a one-off connection to a peer; a peer that
	// does not answer within it is treated as gone.
	peerDialTimeout = time.Second
)

// Options configure the clients of a Factory: the security of the
// inter-broker listener they connect to.
type Options struct {
	// NodeID is this broker's id; replica fetchers name themselves
	// "kafki-replica-<NodeID>" (their client id) to their leader.
	NodeID int32
	// TLS, when set, is the client side of the inter-broker listener's
	// TLS (SSL, SASL_SSL): tlsconf.Store.ClientConfig, which verifies
	// peers against the broker's CA bundle and presents its certificate
	// to peers requiring one (mTLS). The dialer sets ServerName to the
	// peer's host. Nil: plaintext.
	TLS *tls.Config
	// SASL, when set, authenticates every connection to a peer with the
	// first mechanism the peer enables (SASL_PLAINTEXT, SASL_SSL
	// inter-broker listeners): franz-go's mechanisms, e.g.
	// scram.Auth{User: ..., Pass: ...}.AsSha512Mechanism() or
	// plain.Auth{...}.AsMechanism(). The SASL configuration fills it.
	SASL []sasl.Mechanism
}

// Factory builds broker-to-broker clients. Immutable; safe for
// concurrent use.
type Factory struct {
	o Options
}

// New returns a Factory for o.
func New(o Options) *Factory { return &Factory{o: o} }

// Replica returns a client for the replica fetches of this broker from
// the leader at addr. Close it when done.
func (f *Factory) Replica(addr string) (*kgo.Client, error) {
	return f.client(addr,
		kgo.ClientID("kafki-replica-"+strconv.Itoa(int(f.o.NodeID))),
		kgo.DialTimeout(replicaDialTimeout))
}

// Peer returns a client for one-off requests to the peer at addr. Close
// it when done.
func (f *Factory) Peer(addr string) (*kgo.Client, error) {
	return f.client(addr, kgo.DialTimeout(peerDialTimeout))
}

// client is a client of the broker at addr, with no retries of its own,
// and opts.
func (f *Factory) client(addr string, opts ...kgo.Opt) (*kgo.Client, error) {
	all := append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.RequestRetries(0)}, f.security()...)
	return kgo.NewClient(append(all, opts...)...)
}

// security is the options every client gets for the inter-broker
// listener's security protocol.
func (f *Factory) security() []kgo.Opt {
	var opts []kgo.Opt
	if f.o.TLS != nil {
		// kgo clones the config per dial and sets ServerName to the
		// host dialed when empty.
		opts = append(opts, kgo.DialTLSConfig(f.o.TLS))
	}
	if len(f.o.SASL) > 0 {
		opts = append(opts, kgo.SASL(f.o.SASL...))
	}
	return opts
}
