package cli_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// startBroker starts a broker for one test and returns its bootstrap
// address; the broker stops when the test ends.
//
// It is the only place that knows which broker the tests run against, so
// switching to Kafki's own broker (testbroker.Start) is a one-line change.
func startBroker(t testing.TB) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(1))
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}
