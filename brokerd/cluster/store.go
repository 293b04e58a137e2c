package cluster

import (
	"context"
	"net"
	"strconv"

	"github.com/kafki/kafki/brokerd/lease"
	"github.com/kafki/kafki/brokerd/meta"
)

// ControllerLease is the name of the controller's lease.
const ControllerLease = "controller"

// BrokerLease is the name of broker id's session lease.
func BrokerLease(id int32) string { return "broker/" + strconv.Itoa(int(id)) }

// Store is the cluster's shared control state as brokers and the
// controller use it: partition states, broker registrations, the
// metadata version and the leases they are fenced by. Package metastore
// implements it on DynamoDB; every write is a compare-and-set fenced by
// a lease epoch, and returns lease.ErrConflict when a condition failed.
type Store interface {
	lease.Store

	// MetadataVersion is the counter bumped by every metadata write;
	// brokers re-read the snapshot only when it moved.
	MetadataVersion(ctx context.Context) (int64, error)
	// Read returns a consistent snapshot of the metadata (see
	// metastore.Store.Read for its cost).
	Read(ctx context.Context) (Snapshot, error)

	// PutPartitions writes partition states under the controller lease
	// at controllerEpoch, each conditional on its ExpectVersion.
	PutPartitions(ctx context.Context, controllerEpoch int64, writes []PartitionWrite) error
	// PutISR writes an ISR change made by the partition's leader
	// (next.Leader) under its session lease at sessionEpoch, conditional
	// on the version read.
	PutISR(ctx context.Context, sessionEpoch int64, next PartitionState, expectVersion int64) error
	// DeletePartition removes a partition's state (its topic was deleted
	// or shrank), under the controller lease.
	DeletePartition(ctx context.Context, controllerEpoch int64, topic string, p int32, expectVersion int64) error
	// DropTopic removes what is left of a deleted topic once its
	// partition states are gone, under the controller lease.
	DropTopic(ctx context.Context, controllerEpoch int64, topic string) error
	// Announce bumps the metadata version under the controller lease, so
	// every broker re-reads the metadata.
	Announce(ctx context.Context, controllerEpoch int64) error

	// Register writes b's registration under its own session lease at
	// b.SessionEpoch.
	Register(ctx context.Context, b BrokerInfo) error
	// FenceBroker marks broker id fenced, under the controller lease, if
	// it is still registered with sessionEpoch.
	FenceBroker(ctx context.Context, controllerEpoch int64, id int32, sessionEpoch int64) error
}

// PartitionWrite is one compare-and-set of Store.PutPartitions.
type PartitionWrite struct {
	Next          PartitionState
	ExpectVersion int64 // 0: the item must not exist
}

// BrokerInfo is a broker's registration.
type BrokerInfo struct {
	ID int32
	// Addr is the host:port peers connect to: the advertised address of
	// the inter-broker listener. A registration without Endpoints (one
	// written before listeners had names) serves it to every listener.
	Addr string
	// Endpoints are the advertised addresses of every listener, as
	// Kafka's broker registration has them; Metadata answers a client
	// with the endpoint of the listener it connected to.
	Endpoints []Endpoint
	Rack      string
	// SessionEpoch is the epoch of the session lease it registered under.
	SessionEpoch int64
	// Fenced: the controller found its session lapsed; it leads nothing
	// and is not listed to clients until it registers again.
	Fenced bool
}

// Snapshot is the cluster metadata at one point in time.
type Snapshot struct {
	// Version is the metadata version read before the snapshot was: it
	// holds every change up to it, and no later one unless the version
	// kept moving through every attempt of the read.
	Version    int64
	Topics     []meta.Topic     // live topics, sorted by name
	Partitions []PartitionState // sorted by topic and partition; may include partitions of deleted topics
	Brokers    []BrokerInfo     // sorted by id
	// Deleted names the topics deleted whose remains (partition states)
	// the controller has not removed yet, sorted.
	Deleted []string
}

// Endpoint is one listener's advertised address, as Kafka registers it.
type Endpoint struct {
	Listener string // listener name, upper case: "PLAINTEXT", "CLIENT"
	Protocol string // its security protocol: PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL
	Host     string
	Port     int32
}

// Addr is the endpoint as host:port.
func (e Endpoint) Addr() string { return net.JoinHostPort(e.Host, strconv.Itoa(int(e.Port))) }

// EndpointFor returns the address of a broker on listener: its endpoint
// of that name, or, for a registration without endpoints, its legacy
// address under any name. ok is false when the broker has no such
// listener (Kafka then leaves it out of that listener's metadata).
func EndpointFor(endpoints []Endpoint, legacyAddr, listener string) (Endpoint, bool) {
	if len(endpoints) == 0 {
		host, port, err := net.SplitHostPort(legacyAddr)
		if err != nil {
			return Endpoint{}, false
		}
		p, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return Endpoint{}, false
		}
		return Endpoint{Listener: listener, Protocol: "PLAINTEXT", Host: host, Port: int32(p)}, true
	}
	for _, e := range endpoints {
		if e.Listener == listener {
			return e, true
		}
	}
	return Endpoint{}, false
}

// Endpoint is the broker's address on listener (see EndpointFor).
func (b BrokerInfo) Endpoint(listener string) (Endpoint, bool) {
	return EndpointFor(b.Endpoints, b.Addr, listener)
}
