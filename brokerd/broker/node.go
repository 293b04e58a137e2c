package broker

import (
	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/interbroker"
	"github.com/kafki/kafki/brokerd/node"
	"github.com/kafki/kafki/brokerd/topics"
)

// nodeOptions are the settings of this broker's cluster membership, from
// its config; the caller adds the dependencies (store, topics, log,
// callbacks, advertised address).
func nodeOptions(cfg *config.Config) node.Options {
	// As before, broker defaults that do not resolve leave unclean
	// election off.
	s, err := topics.DefaultSettings(cfg)
	return node.Options{
		NodeID:               cfg.NodeID,
		Rack:                 cfg.BrokerRack,
		SessionLease:         cfg.SessionLease,
		MetadataPollInterval: cfg.MetadataPollInterval,
		ReplicaLagTimeMax:    cfg.ReplicaLagTimeMax,
		ReplicaFetchWaitMax:  cfg.ReplicaFetchWaitMax,
		ReplicaFetchMaxBytes: cfg.ReplicaFetchMaxBytes,
		FlushOnAck:           cfg.FlushOnAck,
		UncleanElection:      err == nil && s.UncleanElection,
		Interbroker:          interbroker.New(interbroker.Options{NodeID: cfg.NodeID}),
	}
}
