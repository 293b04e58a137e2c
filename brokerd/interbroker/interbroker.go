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
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
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

// Options configure the clients of a Factory.
type Options struct {
	// NodeID is this broker's id; replica fetchers name themselves
	// "kafki-replica-<NodeID>" (their client id) to their leader.
	NodeID int32
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
	all := append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.RequestRetries(0)}, opts...)
	return kgo.NewClient(all...)
}
