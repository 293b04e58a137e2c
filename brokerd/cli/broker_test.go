package cli_test

import (
	"testing"

	"github.com/kafki/kafki/brokerd/internal/testbroker"
)

// startBroker starts a real in-process Kafki broker for one test and
// returns its bootstrap address; the broker stops when the test ends.
//
// It is the only place that knows which broker the tests run against.
func startBroker(t testing.TB, opts ...testbroker.Option) string {
	t.Helper()
	return testbroker.Start(t, opts...)
}
