package interbroker

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestClientOptions pins the options the broker used before the factory
// existed: the security work adds options, it must not change these.
func TestClientOptions(t *testing.T) {
	f := New(Options{NodeID: 7})
	for _, c := range []struct {
		name     string
		make     func(string) (*kgo.Client, error)
		clientID string
		dial     time.Duration
	}{
		{"replica", f.Replica, "kafki-replica-7", 5 * time.Second},
		{"peer", f.Peer, "kgo", time.Second},
	} {
		cl, err := c.make("127.0.0.1:1")
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := cl.OptValue(kgo.ClientID); got != c.clientID {
			t.Errorf("%s: client id %v, want %q", c.name, got, c.clientID)
		}
		if got := cl.OptValue(kgo.DialTimeout); got != c.dial {
			t.Errorf("%s: dial timeout %v, want %v", c.name, got, c.dial)
		}
		if got := cl.OptValue(kgo.RequestRetries); fmt.Sprint(got) != "0" {
			t.Errorf("%s: request retries %v, want 0", c.name, got)
		}
		if got := cl.OptValue(kgo.SeedBrokers); len(got.([]string)) != 1 || got.([]string)[0] != "127.0.0.1:1" {
			t.Errorf("%s: seed brokers %v", c.name, got)
		}
		cl.Close()
	}
}
