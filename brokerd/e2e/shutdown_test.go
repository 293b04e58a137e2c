package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// gracefulExitBound is how long SIGTERM may take with idle clients
// connected: far less than the default shutdown.timeout, because nothing is
// in flight.
const gracefulExitBound = 10 * time.Second

// TestGracefulShutdown produces with acks=1 (acknowledged before any fsync),
// stops the broker with SIGTERM while the producer is still connected, and
// checks that it exits 0 promptly and that every record is there after a
// restart: a clean shutdown must flush what it acknowledged.
func TestGracefulShutdown(t *testing.T) {
	const (
		topic = "graceful"
		n     = 2000
	)
	b := StartBroker(t, Options{})
	createTopic(t, b.Addr, topic, 1)

	values := make([]string, n)
	for i := range values {
		values[i] = fmt.Sprintf("graceful-%05d", i)
	}
	cl := newClient(t, b.Addr,
		kgo.RequiredAcks(kgo.LeaderAck()),
		kgo.DisableIdempotentWrite(), // acks=1 is not allowed with idempotence
	)
	produceSync(t, cl, topic, values)

	code, took := b.Stop(gracefulExitBound)
	if code != 0 {
		t.Fatalf("brokerd exited with code %d after SIGTERM, want 0", code)
	}
	t.Logf("brokerd exited 0 %v after SIGTERM with a client connected", took.Round(time.Millisecond))
	cl.Close()

	b.Start()
	got := readAll(t, b.Addr, topic, 30*time.Second)[0]
	if len(got) != n {
		t.Fatalf("after restart partition 0 holds %d records, want %d", len(got), n)
	}
	for i, r := range got {
		if r.Offset != int64(i) || string(r.Value) != values[i] {
			t.Fatalf("after restart record #%d is offset %d value %q, want offset %d value %q", i, r.Offset, r.Value, i, values[i])
		}
	}
}
