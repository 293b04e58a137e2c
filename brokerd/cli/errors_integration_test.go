package cli_test

import (
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/internal/testbroker"
)

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// silentServer accepts connections and never answers, like a broker that
// hangs or a wrong port on a firewall that swallows packets. It counts
// accepted connections.
func silentServer(t *testing.T) (addr string, accepted *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = new(atomic.Int32)
	done := make(chan struct{})
	var conns []net.Conn
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range conns {
					c.Close()
				}
				return
			}
			accepted.Add(1)
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String(), accepted
}

func TestUnreachableServerFailsFast(t *testing.T) {
	addr := closedAddr(t)
	for _, args := range [][]string{
		{"topics", "list"},
		{"topics", "create", "--topic", "t"},
		{"produce", "--topic", "t"},
		{"consume", "--topic", "t"},
	} {
		start := time.Now()
		r := kafki(t, "", "x\n", append(args, "--bootstrap-server", addr)...)
		wantFailure(t, r, 1, "cannot reach bootstrap server", addr)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%v took %s to fail against a closed port", args, d)
		}
	}
}

func TestSilentServerFailsAfterTimeout(t *testing.T) {
	addr, _ := silentServer(t)
	start := time.Now()
	r := kafki(t, addr, "", "topics", "list", "--timeout", "300ms")
	wantFailure(t, r, 1, addr, "300ms")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("silent server: took %s with --timeout 300ms", d)
	}
}

func TestUnknownTopic(t *testing.T) {
	bs := startBroker(t, testbroker.WithConfig(func(c *config.Config) { c.AutoCreateTopics = false }))
	wantFailure(t, kafki(t, bs, "", "consume", "--topic", "missing"), 1, "unknown topic", `"missing"`)
	wantFailure(t, kafki(t, bs, "hello\n", "produce", "--topic", "missing"), 1, "unknown topic", `"missing"`)
}

// TestProduceAutoCreatesTopic: like Kafka's producer, kafki lets a broker
// that allows it create the topic on first use; consume never does.
func TestProduceAutoCreatesTopic(t *testing.T) {
	bs := startBroker(t)
	wantFailure(t, kafki(t, bs, "", "consume", "--topic", "fresh"), 1, "unknown topic", `"fresh"`)
	mustRun(t, bs, "hello\n", "produce", "--topic", "fresh")
	if got := mustRun(t, bs, "", "consume", "--topic", "fresh", "--from-beginning", "--max-messages", "1"); got != "hello\n" {
		t.Fatalf("consume of auto-created topic = %q", got)
	}
}

// TestBadFlagsRejectedBeforeConnecting checks usage errors exit 2 with one
// line, and that no connection was attempted.
func TestBadFlagsRejectedBeforeConnecting(t *testing.T) {
	addr, accepted := silentServer(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"topics", "create", "--topic", "t", "--partitions", "-3"}, "--partitions"},
		{[]string{"topics", "create", "--topic", "t", "--partitions", "0"}, "--partitions"},
		{[]string{"topics", "create", "--topic", "bad/name"}, "topic names"},
		{[]string{"topics", "create"}, "--topic is required"},
		{[]string{"topics", "create", "--topic", "t", "--config", "novalue"}, "key=value"},
		{[]string{"topics", "alter", "--topic", "t"}, "nothing to alter"},
		{[]string{"topics", "alter", "--topic", "t", "--config", "a=1", "--delete-config", "a"}, `"a"`},
		{[]string{"topics", "frobnicate"}, "unknown subcommand"},
		{[]string{"produce", "--topic", "t", "--compression", "brotli"}, "--compression"},
		{[]string{"produce", "--topic", "t", "--acks", "2"}, "--acks"},
		{[]string{"produce", "--topic", "t", "--acks", "1", "--idempotent=true"}, "--idempotent"},
		{[]string{"produce", "--topic", "t", "--linger-ms", "-1"}, "--linger-ms"},
		{[]string{"produce", "--topic", "t", "--header", "nocolon"}, "key:value"},
		{[]string{"produce", "--topic", "t", "--partition", "-2"}, "--partition"},
		{[]string{"consume", "--topic", "t", "--offset", "5"}, "--partition"},
		{[]string{"consume", "--topic", "t", "--offset", "soon", "--partition", "0"}, "--offset"},
		{[]string{"consume", "--topic", "t", "--from-beginning", "--offset", "earliest"}, "--from-beginning"},
		{[]string{"consume", "--topic", "t", "--format", "%q"}, "%q"},
		{[]string{"consume", "--topic", "t", "--max-messages", "-1"}, "--max-messages"},
		{[]string{"consume", "--topic", "t", "--group", "g", "--partition", "0"}, "--group"},
		{[]string{"consume", "--topic", "t", "--nope"}, "--nope"},
		{[]string{"consume", "--topic", "t", "extra"}, `"extra"`},
		{[]string{"consume", "--topic", "t", "--timeout", "-1s"}, "--timeout"},
		{[]string{"consume", "--topic", "t", "--bootstrap-server", "host:notaport"}, "port"},
		{[]string{"bogus"}, "unknown command"},
	}
	for _, c := range cases {
		r := kafki(t, addr, "", c.args...)
		wantFailure(t, r, 2, c.want, "--help")
		if t.Failed() {
			t.Fatalf("args %v", c.args)
		}
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("usage errors opened %d connections, want none", n)
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"help"}, {"topics", "--help"},
		{"topics", "create", "--help"}, {"topics", "list", "-h"}, {"topics", "describe", "--help"},
		{"topics", "delete", "--help"}, {"topics", "alter", "--help"},
		{"produce", "--help"}, {"consume", "--help"}, {"help", "consume"},
	} {
		r := kafki(t, "", "", args...)
		if r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, "Usage: kafki") {
			t.Errorf("%v: exit %d, stderr %q, stdout %q", args, r.code, r.stderr, r.stdout)
		}
		if len(args) > 1 && args[0] != "help" && args[1] != "--help" && !strings.Contains(r.stdout, "Examples:") {
			t.Errorf("%v: help has no examples", args)
		}
		if strings.Contains(r.stdout, "\n  -") && !strings.Contains(r.stdout, "\n  --") {
			t.Errorf("%v: flags shown with one dash", args)
		}
	}
	if r := kafki(t, "", ""); r.code != 2 {
		t.Errorf("no arguments: exit %d, want 2", r.code)
	}
}

func TestVersion(t *testing.T) {
	r := kafki(t, "", "", "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "kafki ") {
		t.Fatalf("version: exit %d, stdout %q", r.code, r.stdout)
	}
}

// TestBootstrapFlagOverridesEnv points the environment variable at a dead
// address and the flag at the broker: the flag wins.
func TestBootstrapFlagOverridesEnv(t *testing.T) {
	bs := startBroker(t)
	dead := closedAddr(t)
	if r := kafki(t, dead, "", "topics", "list", "--bootstrap-server", bs); r.code != 0 {
		t.Fatalf("flag did not override env: exit %d, stderr %q", r.code, r.stderr)
	}
	wantFailure(t, kafki(t, dead, "", "topics", "list"), 1, dead)
}
