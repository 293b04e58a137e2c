package loadtest

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// TestBadOptions checks that invalid options are one line on stderr and
// exit 2, before anything connects (the bootstrap is a closed port).
func TestBadOptions(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"produce", "--rate=-5"}, "--rate"},
		{[]string{"produce", "--compression=brotli"}, "unknown compression"},
		{[]string{"fly"}, "unknown workload"},
		{nil, "missing workload"},
		{[]string{"produce", "--acks=2"}, "acks"},
		{[]string{"produce", "--acks=1", "--idempotent=true"}, "idempotent"},
		{[]string{"produce", "--record-size=abc"}, "size"},
		{[]string{"produce", "--bootstrap=nohostport"}, "--bootstrap"},
		{[]string{"e2e", "--record-size=4"}, "at least 8"},
		{[]string{"produce", "--duration=0"}, "--duration or --records"},
		{[]string{"produce", "--partitions=0"}, "--partitions"},
		{[]string{"produce", "--keys=zipf"}, "keys"},
		{[]string{"produce", "--nope"}, "nope"},
		{[]string{"consume", "--preload=-1"}, "preload"},
		{[]string{"consume", "--read-back"}, "--read-back applies only to the produce workload"},
		{[]string{"produce", "--spawn-broker=bin/brokerd"}, "--bootstrap and --spawn-broker are mutually exclusive"},
		{[]string{"produce", "--fetch-partition-bytes=100"}, "--fetch-partition-bytes"},
		{[]string{"produce", "--fetch-max-bytes=1024", "--fetch-partition-bytes=2048"}, "--fetch-partition-bytes"},
		{[]string{"produce", "--isolation=serializable"}, `--isolation "serializable": want read_uncommitted or read_committed`},
		{[]string{"produce", "--transaction-records=10"}, "--transaction-records needs --transactional-id"},
		{[]string{"produce", "--transactional-id=lt"}, "--transaction-records 0: must be 1..10000000"},
		{[]string{"produce", "--transactional-id=lt", "--transaction-records=-1"}, "--transaction-records -1"},
		{[]string{"produce", "--transactional-id=lt", "--transaction-records=10", "--acks=1"}, "--transactional-id needs an idempotent producer with --acks=all"},
		{[]string{"consume", "--transactional-id=lt", "--transaction-records=10"}, "--transactional-id applies to the produce and e2e workloads"},
	} {
		var stdout, stderr bytes.Buffer
		code := Main(context.Background(), append(tc.args, "--bootstrap=127.0.0.1:1"), &stdout, &stderr)
		if tc.args != nil && tc.args[len(tc.args)-1] == "--bootstrap=nohostport" {
			// The later --bootstrap above would override; run it alone.
			stderr.Reset()
			code = Main(context.Background(), tc.args, &stdout, &stderr)
		}
		msg := stderr.String()
		if code != ExitUsage {
			t.Errorf("%v: exit %d, want %d (stderr %q)", tc.args, code, ExitUsage, msg)
			continue
		}
		if strings.Count(msg, "\n") != 1 || !strings.HasPrefix(msg, "loadtest: ") || !strings.Contains(msg, tc.want) {
			t.Errorf("%v: stderr %q, want one line mentioning %q", tc.args, msg, tc.want)
		}
	}
}

func TestHelpExitsZero(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Main(context.Background(), []string{"produce", "--help"}, &stdout, &stderr); code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(stdout.String(), "--rate") || !strings.Contains(stdout.String(), "e2e") {
		t.Fatalf("usage lacks flags or workloads: %q", stdout.String())
	}
}

// TestUnreachableBootstrap checks a cluster nobody answers for: one line,
// exit 1, within the --timeout bound.
func TestUnreachableBootstrap(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // a port nobody listens on
	var stdout, stderr bytes.Buffer
	began := time.Now()
	code := Main(context.Background(), []string{"produce", "--bootstrap=" + addr, "--timeout=1500ms", "--json=", "--svg="}, &stdout, &stderr)
	took := time.Since(began)
	msg := stderr.String()
	if code != ExitFailure {
		t.Fatalf("exit %d, want %d (stderr %q)", code, ExitFailure, msg)
	}
	if strings.Count(msg, "\n") != 1 || !strings.Contains(msg, "unreachable") || !strings.Contains(msg, addr) {
		t.Fatalf("stderr %q: want one line naming the unreachable address", msg)
	}
	if took > 10*time.Second {
		t.Fatalf("took %s with --timeout=1.5s", took)
	}
}

func TestParseArgsDefaultsAndEnv(t *testing.T) {
	env := func(k string) string {
		if k == BootstrapEnv {
			return "10.0.0.1:9092,10.0.0.2:9092"
		}
		return ""
	}
	cfg, err := ParseArgs([]string{"e2e", "--acks=1", "--rate=500", "--keys=uniform:10", "--record-size=100-200"}, env, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Workload != WorkloadE2E || cfg.Acks != AcksLeader || cfg.Rate != 500 || cfg.Keys.N != 10 || cfg.RecordSize.Max() != 200 {
		t.Fatalf("parsed %+v", cfg)
	}
	if cfg.Idempotent {
		t.Fatal("idempotence stayed on with acks=1 although not asked for")
	}
	if got := cfg.Seeds(); len(got) != 2 || got[1] != "10.0.0.2:9092" {
		t.Fatalf("seeds %v, want the environment's two", got)
	}
	if !errors.Is(cfg.Validate(), nil) {
		t.Fatal("valid config rejected")
	}
}
