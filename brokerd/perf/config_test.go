package perf

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseFlagsDefaultsAreTheIssueMatrix(t *testing.T) {
	cfg, err := ParseFlags(nil, nil, &bytes.Buffer{})
	if err != nil {
		t.Fatalf("ParseFlags: %v", err)
	}
	want := []Cell{{100, AcksLeader}, {100, AcksAll}, {1024, AcksLeader}, {1024, AcksAll}}
	if got := cfg.Cells(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Cells() = %v, want %v", got, want)
	}
	if cfg.Bootstrap != DefaultBootstrap || cfg.Duration != 10*time.Second || cfg.Warmup != 2*time.Second ||
		cfg.Partitions != 3 || cfg.Linger != 5*time.Millisecond || cfg.BatchMaxBytes != 1<<20 ||
		cfg.Producers != 1 || cfg.Compression != "none" || cfg.Records != 0 {
		t.Fatalf("unexpected defaults: %+v", cfg)
	}
	// The default matrix must finish in under two minutes even when every
	// consume phase runs into its timeout.
	perCell := cfg.Warmup + cfg.Duration + cfg.ConsumeTimeout
	if total := time.Duration(len(want)) * perCell; total >= 2*time.Minute {
		t.Fatalf("worst case of the default matrix is %s, want < 2m", total)
	}
}

func TestParseFlagsOverrides(t *testing.T) {
	cfg, err := ParseFlags([]string{
		"--spawn-broker", "/bin/brokerd", "--record-size", "10, 2000", "--acks", "all",
		"--partitions", "6", "--linger", "0s", "--producers", "2", "--compression", "zstd",
		"--records", "5000", "--max-buffered-records", "100", "--json", "out.json",
	}, nil, &bytes.Buffer{})
	if err != nil {
		t.Fatalf("ParseFlags: %v", err)
	}
	if cfg.Bootstrap != "" || cfg.SpawnBroker != "/bin/brokerd" {
		t.Errorf("broker: bootstrap %q spawn %q", cfg.Bootstrap, cfg.SpawnBroker)
	}
	if !reflect.DeepEqual(cfg.Cells(), []Cell{{10, AcksAll}, {2000, AcksAll}}) {
		t.Errorf("cells %v", cfg.Cells())
	}
	// --records replaces the time-driven defaults.
	if cfg.Records != 5000 || cfg.Duration != 0 || cfg.Warmup != 0 {
		t.Errorf("records %d duration %s warmup %s", cfg.Records, cfg.Duration, cfg.Warmup)
	}
	if cfg.Partitions != 6 || cfg.Linger != 0 || cfg.Producers != 2 || cfg.Compression != "zstd" ||
		cfg.MaxBufferedRecords != 100 || cfg.JSONPath != "out.json" {
		t.Errorf("overrides not applied: %+v", cfg)
	}
}

func TestParseFlagsBootstrapFromEnvironment(t *testing.T) {
	getenv := func(k string) string {
		if k == BootstrapEnv {
			return "10.0.0.1:9093"
		}
		return ""
	}
	cfg, err := ParseFlags(nil, getenv, &bytes.Buffer{})
	if err != nil {
		t.Fatalf("ParseFlags: %v", err)
	}
	if got := cfg.Seeds(); !reflect.DeepEqual(got, []string{"10.0.0.1:9093"}) {
		t.Fatalf("Seeds() = %v", got)
	}
}

func TestParseFlagsRejectsBadInput(t *testing.T) {
	cases := []struct {
		args []string
		want string // substring of the error
	}{
		{[]string{"--nope"}, "flag provided but not defined: --nope"},
		{[]string{"stray"}, `unexpected argument "stray"`},
		{[]string{"--bootstrap-server", "a:1", "--spawn-broker", "x"}, "mutually exclusive"},
		{[]string{"--bootstrap-server", "nohost"}, "not host:port"},
		{[]string{"--bootstrap-server", "h:99999"}, "port must be"},
		{[]string{"--spawn-broker", "x", "--broker-pid", "7"}, "--broker-pid is only for"},
		{[]string{"--record-size", "0"}, "--record-size 0"},
		{[]string{"--record-size", "abc"}, "not a number"},
		{[]string{"--record-size", "1000", "--batch-max-bytes", "1000"}, "does not fit"},
		{[]string{"--acks", "0"}, "must be 1 or all"},
		{[]string{"--partitions", "0"}, "--partitions 0"},
		{[]string{"--linger", "-1ms"}, "--linger"},
		{[]string{"--batch-max-bytes", "100"}, "--batch-max-bytes 100"},
		{[]string{"--producers", "0"}, "--producers 0"},
		{[]string{"--compression", "brotli"}, "--compression"},
		{[]string{"--max-buffered-records", "0"}, "--max-buffered-records 0"},
		{[]string{"--duration", "0s"}, "--duration 0s"},
		{[]string{"--records", "10", "--duration", "5s"}, "mutually exclusive"},
		{[]string{"--records", "10", "--warmup", "1s"}, "--warmup applies only"},
		{[]string{"--records", "1", "--producers", "2"}, "fewer than --producers"},
		{[]string{"--consume-timeout", "0s"}, "--consume-timeout"},
		{[]string{"--timeout", "0s"}, "--timeout"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			_, err := ParseFlags(c.args, nil, &bytes.Buffer{})
			if !errors.Is(err, ErrUsage) {
				t.Fatalf("err = %v, want ErrUsage", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %q, want it to mention %q", err, c.want)
			}
		})
	}
}

func TestParseFlagsHelp(t *testing.T) {
	var out bytes.Buffer
	_, err := ParseFlags([]string{"--help"}, nil, &out)
	if !IsHelp(err) {
		t.Fatalf("err = %v, want the help marker", err)
	}
	for _, flag := range []string{"--spawn-broker", "--bootstrap-server", "--record-size", "--acks", "--records", "--json", "--cpuprofile"} {
		if !strings.Contains(out.String(), flag) {
			t.Errorf("help does not mention %s", flag)
		}
	}
}
