package node_test

import (
	"testing"

	kcluster "github.com/kafki/kafki/brokerd/cluster"
	"github.com/kafki/kafki/brokerd/topics"
)

// The controller reads unclean election from the snapshot's topic config
// under its own constant (package cluster does not import the topic
// manager); it must be the key the topic manager validates and applies.
func TestControllerUncleanElectionKeyIsTheTopicConfig(t *testing.T) {
	if kcluster.UncleanElectionKey != topics.KeyUncleanElection {
		t.Fatalf("cluster reads %q, topics writes %q", kcluster.UncleanElectionKey, topics.KeyUncleanElection)
	}
}
