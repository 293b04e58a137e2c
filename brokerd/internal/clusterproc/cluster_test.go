package clusterproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kafki/kafki/internal/poll"
	"github.com/kafki/kafki/loadtest/brokerproc"
)

// unusedEndpoint stands in for DynamoDB where the fake broker ignores it,
// so those tests need no moto_server.
const unusedEndpoint = "http://127.0.0.1:9"

func TestStartRejectsBadOptions(t *testing.T) {
	notExec := filepath.Join(t.TempDir(), "brokerd")
	if err := os.WriteFile(notExec, []byte("not a program"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "no-such-brokerd")
	sec := NewSecurity(t, t.TempDir(), 3)
	for _, tc := range []struct {
		name  string
		opt   Options
		wants []string
	}{
		{"missing binary", Options{Brokers: 3, BrokerdPath: missing}, []string{missing, "no such file", "make build"}},
		{"empty binary path", Options{Brokers: 3}, []string{"BrokerdPath is empty", "make build"}},
		{"not executable", Options{Brokers: 3, BrokerdPath: notExec}, []string{notExec, "not an executable"}},
		{"no brokers", Options{Brokers: 0, BrokerdPath: os.Args[0]}, []string{"Brokers must be at least 1"}},
		{"bad env", Options{Brokers: 1, BrokerdPath: os.Args[0], Env: []string{"KAFKI_X"}}, []string{`"KAFKI_X" is not KEY=value`}},
		{"security in namespaces", Options{Brokers: 1, BrokerdPath: os.Args[0], NetNS: true, Security: sec}, []string{"Security and NetNS", "127.0.0.1"}},
		{"security short of keystores", Options{Brokers: 4, BrokerdPath: os.Args[0], Security: sec}, []string{"no keystore for broker 4"}},
		{"security without users", Options{Brokers: 1, BrokerdPath: os.Args[0], Security: &Security{CAFile: sec.CAFile, CA: sec.CA}}, []string{"NewSecurity"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Start(context.Background(), tc.opt)
			if err == nil {
				c.Close()
				t.Fatal("Start succeeded, want an error")
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestPrefixWriterWritesWholeLines(t *testing.T) {
	var buf bytes.Buffer
	w := &prefixWriter{w: &buf, prefix: "[broker 2] "}
	for _, s := range []string{"hel", "lo\nwor", "ld\n", "partial"} {
		if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if got, want := buf.String(), "[broker 2] hello\n[broker 2] world\n"; got != want {
		t.Errorf("output %q, want %q (partial line held back)", got, want)
	}
}

// startFake starts n fake brokers (the test binary in fakeBroker mode).
func startFake(t *testing.T, n int, mode string, opt Options) *Cluster {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// A relative binary path must work although brokers run in their data
	// directories.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(wd, exe)
	if err != nil {
		t.Fatal(err)
	}
	opt.Brokers, opt.BrokerdPath, opt.Endpoint = n, rel, unusedEndpoint
	opt.Env = append(opt.Env, fakeEnv+"="+mode)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Start(ctx, opt)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestFakeClusterEnvironment(t *testing.T) {
	// Stray settings in the developer's shell must not reach brokers.
	t.Setenv("KAFKI_NODE_ID", "99")
	t.Setenv("KAFKI_LOG_LEVEL", "error")
	t.Setenv("AWS_PROFILE", "does-not-exist")
	t.Setenv("CLUSTERPROC_TEST_KEPT", "yes")
	var stdout bytes.Buffer // read only after Close: no writer left
	c := startFake(t, 3, "serve", Options{
		Stdout:       &stdout,
		Racks:        []string{"rack-a", "rack-b"},
		SessionLease: 2 * time.Second,
		Table:        "my-table",
		Env:          []string{"KAFKI_REPLICA_LAG_TIME_MAX=3s", "AWS_REGION=eu-west-1"},
	})
	if c.Table() != "my-table" || c.Endpoint() != unusedEndpoint {
		t.Errorf("Table() = %q, Endpoint() = %q", c.Table(), c.Endpoint())
	}
	wantRack := map[int32]string{1: "rack-a", 2: "rack-b", 3: "rack-a"}
	for _, p := range c.Brokers() {
		logs := waitLogs(t, p, "env PATH=")
		wants := []string{
			"args --metrics.listen=\n",
			fmt.Sprintf("env KAFKI_NODE_ID=%d\n", p.ID()),
			"env KAFKI_LISTEN=" + p.Addr() + "\n",
			"env KAFKI_DATA_DIR=" + p.DataDir() + "\n",
			"env KAFKI_METADATA_STORE=dynamodb\n",
			"env KAFKI_METADATA_TABLE=my-table\n",
			"env KAFKI_METADATA_CREATE_TABLE=true\n",
			"env KAFKI_BROKER_RACK=" + wantRack[p.ID()] + "\n",
			"env KAFKI_SESSION_LEASE=2s\n",
			"env KAFKI_REPLICA_LAG_TIME_MAX=3s\n",
			"env AWS_ENDPOINT_URL=" + unusedEndpoint + "\n",
			"env AWS_ACCESS_KEY_ID=mototest\n",
			"env AWS_REGION=eu-west-1\n", // Options.Env wins
			"env CLUSTERPROC_TEST_KEPT=yes\n",
		}
		for _, w := range wants {
			if !strings.Contains(logs, w) {
				t.Errorf("broker %d environment lacks %q; output:\n%s", p.ID(), strings.TrimSpace(w), logs)
			}
		}
		for _, bad := range []string{"KAFKI_NODE_ID=99", "KAFKI_LOG_LEVEL", "AWS_PROFILE", "AWS_REGION=us-east-1"} {
			if strings.Contains(logs, bad) {
				t.Errorf("broker %d environment has %q", p.ID(), bad)
			}
		}
		if filepath.Dir(p.DataDir()) != c.BaseDir() || filepath.Base(p.DataDir()) != fmt.Sprintf("broker-%d", p.ID()) {
			t.Errorf("broker %d data dir %s, want %s/broker-%d", p.ID(), p.DataDir(), c.BaseDir(), p.ID())
		}
	}
	base := c.BaseDir()
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Stat(base); !os.IsNotExist(err) {
		t.Errorf("temporary base dir %s still there after Close (%v)", base, err)
	}
	for _, w := range []string{"[broker 2] env KAFKI_NODE_ID=2\n", "[broker 3] fake broker: SIGTERM, exiting\n"} {
		if !strings.Contains(stdout.String(), w) {
			t.Errorf("Options.Stdout lacks %q:\n%s", w, stdout.String())
		}
	}
}

func TestFakeClusterLifecycle(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	base, err := filepath.Rel(wd, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := startFake(t, 3, "serve", Options{BaseDir: base})
	if !filepath.IsAbs(c.Broker(1).DataDir()) {
		t.Errorf("DataDir %q is relative; the broker runs in it", c.Broker(1).DataDir())
	}
	bs := c.Bootstrap()
	if len(bs) != 3 || bs[0] == bs[1] || bs[1] == bs[2] || bs[0] == bs[2] {
		t.Fatalf("Bootstrap() = %v, want 3 distinct addresses", bs)
	}
	for i, p := range c.Brokers() {
		if p.ID() != int32(i+1) || c.Broker(p.ID()) != p || p.Addr() != bs[i] {
			t.Errorf("broker %d: id/lookup/address mismatch", i+1)
		}
		if !p.Running() || !accepts(p.Addr()) {
			t.Errorf("broker %d not running and listening after Start", p.ID())
		}
		// Own process group: a Ctrl-C to the test's group spares it.
		if pgid, err := syscall.Getpgid(p.PID()); err != nil || pgid != p.PID() || pgid == syscall.Getpgrp() {
			t.Errorf("broker %d pgid %d (err %v), want its own pid %d", p.ID(), pgid, err, p.PID())
		}
	}
	if c.Broker(0) != nil || c.Broker(4) != nil {
		t.Error("Broker() returned a broker for an id outside 1..3")
	}

	b := c.Broker(2)
	if err := b.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	waitState(t, b.PID(), true)
	if err := b.Cont(); err != nil {
		t.Fatalf("Cont: %v", err)
	}
	waitState(t, b.PID(), false)

	oldPID := b.PID()
	if err := b.Kill(); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	select {
	case <-b.Exited():
	default:
		t.Fatal("Exited() not closed after Kill returned")
	}
	if b.Running() || accepts(b.Addr()) {
		t.Fatal("killed broker still running or listening")
	}
	if err := b.Kill(); !errors.Is(err, ErrNotRunning) {
		t.Errorf("second Kill = %v, want ErrNotRunning", err)
	}
	if err := b.Restart(context.Background()); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	if b.Addr() != bs[1] || b.PID() == oldPID || !b.Running() || !accepts(b.Addr()) {
		t.Errorf("after Restart: addr %s (want %s), pid %d (old %d), running %v", b.Addr(), bs[1], b.PID(), oldPID, b.Running())
	}
	if err := b.Restart(context.Background()); !errors.Is(err, ErrRunning) {
		t.Errorf("Restart of a running broker = %v, want ErrRunning", err)
	}
	if logs := b.Logs(); !strings.Contains(logs, "run #1") || !strings.Contains(logs, "run #1 killed (SIGKILL)") || !strings.Contains(logs, "run #2") {
		t.Errorf("logs do not tell both runs apart:\n%s", logs)
	}

	// A paused broker still terminates: the harness resumes it.
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := b.Terminate(10 * time.Second); err != nil {
		t.Fatalf("Terminate of a paused broker: %v", err)
	}
	waitLogs(t, b, "fake broker: SIGTERM, exiting")

	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, p := range c.Brokers() {
		if p.Running() {
			t.Errorf("broker %d running after Close", p.ID())
		}
	}
	if _, err := os.Stat(c.Broker(1).DataDir()); err != nil {
		t.Errorf("a given BaseDir must be kept by Close: %v", err)
	}
}

func TestCloseReportsUnexpectedExit(t *testing.T) {
	c := startFake(t, 2, "serve", Options{})
	conn, err := net.Dial("tcp", c.Broker(1).Addr())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(conn, "crash")
	conn.Close()
	select {
	case <-c.Broker(1).Exited():
	case <-time.After(10 * time.Second):
		t.Fatal("fake broker did not crash")
	}
	err = c.Close()
	if err == nil || !strings.Contains(err.Error(), "broker 1 exited unexpectedly (exit status 3)") {
		t.Fatalf("Close = %v, want broker 1's unexpected exit", err)
	}
	if strings.Contains(err.Error(), "broker 2") {
		t.Errorf("Close blames broker 2, which was stopped cleanly: %v", err)
	}
}

func TestStartReportsBrokerThatExits(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	_, err = Start(context.Background(), Options{
		Brokers: 2, BrokerdPath: exe, Endpoint: unusedEndpoint,
		Env: []string{fakeEnv + "=fail"},
	})
	if err == nil {
		t.Fatal("Start succeeded with brokers that exit at once")
	}
	for _, w := range []string{"broker 1 exited (exit status 2) before listening", "fatal: bad config for the fake broker"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Start error %q does not mention %q", err, w)
		}
	}
}

func TestTerminateKillsABrokerIgnoringSIGTERM(t *testing.T) {
	c := startFake(t, 1, "stubborn", Options{})
	b := c.Broker(1)
	err := b.Terminate(200 * time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "did not exit within 200ms of SIGTERM; killed it") {
		t.Fatalf("Terminate = %v, want the kill reported", err)
	}
	if b.Running() {
		t.Fatal("broker still running after Terminate killed it")
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close after an asked-for kill = %v, want nil", err)
	}
}

// TestRealCluster runs three real brokers against moto: start, kill one,
// restart it, close. It always runs: a broker binary without cluster mode
// (no session.lease setting) or a missing moto_server fails it, so a wrong
// binary cannot pass as a skipped test.
func TestRealCluster(t *testing.T) {
	if brokerdErr != nil {
		t.Fatal(brokerdErr)
	}
	help, err := exec.Command(brokerdBin, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("%s --help: %v\n%s", brokerdBin, err, help)
	}
	if !strings.Contains(string(help), "--session.lease") {
		t.Fatalf("%s --help lists no --session.lease: not a broker with cluster mode, which the harness runs\n%s", brokerdBin, help)
	}
	if _, err := exec.LookPath("moto_server"); err != nil {
		t.Fatalf("moto_server not installed (make test-deps, or pip install 'moto[server]'): %v", err)
	}
	t.Run("loopback", func(t *testing.T) { testRealCluster(t, false) })
	t.Run("netns", func(t *testing.T) {
		skipWithoutNetNS(t)
		testRealCluster(t, true)
	})
}

func testRealCluster(t *testing.T, netns bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := Start(ctx, Options{Brokers: 3, BrokerdPath: brokerdBin, SessionLease: 2 * time.Second, Racks: []string{"a", "b", "c"}, NetNS: netns})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer func() {
		if t.Failed() {
			for _, p := range c.Brokers() {
				t.Logf("broker %d log:\n%s", p.ID(), p.Logs())
			}
		}
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	waitBrokers(t, c.Bootstrap(), 3)

	b := c.Broker(3)
	if err := b.Kill(); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	if b.Running() || accepts(b.Addr()) {
		t.Fatal("killed broker still running or listening")
	}
	if err := b.Restart(ctx); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	waitBrokers(t, c.Bootstrap(), 3)
	if !netns {
		// A goroutine dump for a failed test's logs: every goroutine's
		// stack (not only the signalled one) is in the broker's output,
		// and the broker is gone.
		if err := b.DumpGoroutines(); err != nil {
			t.Fatalf("DumpGoroutines: %v", err)
		}
		logs := b.Logs()
		for _, want := range []string{"SIGQUIT: quit", "brokerd/node.(*Node).runWatcher"} {
			if !strings.Contains(logs, want) {
				t.Errorf("broker output after DumpGoroutines lacks %q", want)
			}
		}
		if b.Running() {
			t.Error("broker still running after DumpGoroutines")
		}
		return
	}
	// Faults and healing on real brokers; the cluster serves again.
	if err := c.Broker(1).CutFromPeers(); err != nil {
		t.Fatal(err)
	}
	if err := c.Broker(2).Isolate(); err != nil {
		t.Fatal(err)
	}
	if accepts(c.Broker(2).Addr()) {
		t.Error("isolated broker 2 accepts connections from the root namespace")
	}
	for _, id := range []int32{1, 2} {
		if err := c.Broker(id).Heal(); err != nil {
			t.Fatal(err)
		}
	}
	waitBrokers(t, c.Bootstrap(), 3)
}

// waitBrokers waits until every broker in bootstrap answers a metadata
// request itself, listing n brokers (brokerproc.WaitBrokers).
func waitBrokers(t *testing.T, bootstrap []string, n int) {
	t.Helper()
	if err := brokerproc.WaitBrokers(t.Context(), bootstrap, n, 30*time.Second, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
}

func accepts(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// waitLogs polls p's output until it contains want: the harness copies
// the child's pipe from its own goroutine.
func waitLogs(t *testing.T, p *Proc, want string) string {
	t.Helper()
	var logs string
	poll.Must(t, 10*time.Second, fmt.Sprintf("broker %d output containing %q", p.ID(), want), func() error {
		if logs = p.Logs(); !strings.Contains(logs, want) {
			return fmt.Errorf("output so far:\n%s", logs)
		}
		return nil
	})
	return logs
}

// waitState polls /proc until pid is (or is no longer) stopped.
func waitState(t *testing.T, pid int, stopped bool) {
	t.Helper()
	path := fmt.Sprintf("/proc/%d/stat", pid)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("no %s to check SIGSTOP: %v", path, err)
	}
	poll.Must(t, 10*time.Second, fmt.Sprintf("pid %d stopped=%v", pid, stopped), func() error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		// Format: pid (comm) state ...; comm may hold spaces.
		s := string(b)
		if state := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])[0]; (state == "T") != stopped {
			return fmt.Errorf("state %s", state)
		}
		return nil
	})
}
