package clusterproc

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kafki/kafki/internal/poll"
)

// skipWithoutNetNS skips a test that needs Options.NetNS where it cannot
// work, with the reason.
func skipWithoutNetNS(t *testing.T) {
	t.Helper()
	if err := NetNSAvailable(); err != nil {
		t.Skip(err)
	}
}

// reaches asks fake broker from (which must be reachable from the test)
// whether it can connect to addr from inside its namespace.
func reaches(t *testing.T, from *Proc, addr string) bool {
	t.Helper()
	conn, err := net.DialTimeout("tcp", from.Addr(), time.Second)
	if err != nil {
		t.Fatalf("dial broker %d: %v", from.ID(), err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
	fmt.Fprintf(conn, "dial %s\n", addr)
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatalf("broker %d did not answer the dial of %s: %v", from.ID(), addr, err)
	}
	return strings.TrimSpace(line) == "ok"
}

// nsInode is the network namespace of pid, as /proc names it.
func nsInode(t *testing.T, pid string) string {
	t.Helper()
	s, err := os.Readlink("/proc/" + pid + "/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNetNSFakeCluster(t *testing.T) {
	skipWithoutNetNS(t)
	c := startFake(t, 3, "serve", Options{NetNS: true})
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	host := c.HostAddr()
	// A listener in the root namespace stands for DynamoDB and clients.
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("listen on the bridge address %s: %v", host, err)
	}
	defer l.Close()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			conn.Close()
		}
	}()
	rootAddr := l.Addr().String()

	own := nsInode(t, "self")
	seen := map[string]int32{}
	subnet := netip.MustParsePrefix(host + "/24").Masked()
	for _, p := range c.Brokers() {
		ap := netip.MustParseAddrPort(p.Addr())
		if !subnet.Contains(ap.Addr()) || ap.Addr().String() == host {
			t.Errorf("broker %d listens on %s, want a broker address in %s", p.ID(), p.Addr(), subnet)
		}
		// ip netns exec must exec the broker in its own process: the
		// pid the harness signals is the broker's, not a wrapper's.
		pid := fmt.Sprint(p.PID())
		if got, err := os.Readlink("/proc/" + pid + "/exe"); err != nil || got != exe {
			t.Errorf("broker %d: pid %s runs %q (%v), want the broker binary %s", p.ID(), pid, got, err, exe)
		}
		if pgid, err := syscall.Getpgid(p.PID()); err != nil || pgid != p.PID() {
			t.Errorf("broker %d: pgid %d (%v), want its pid %d", p.ID(), pgid, err, p.PID())
		}
		ns := nsInode(t, pid)
		if ns == own {
			t.Errorf("broker %d runs in the test's network namespace", p.ID())
		}
		if other, dup := seen[ns]; dup {
			t.Errorf("brokers %d and %d share network namespace %s", other, p.ID(), ns)
		}
		seen[ns] = p.ID()
	}

	b1, b2, b3 := c.Broker(1), c.Broker(2), c.Broker(3)
	type path struct {
		from *Proc
		to   string
		name string
	}
	all := func() []path {
		return []path{
			{b1, b2.Addr(), "1->2"}, {b2, b1.Addr(), "2->1"}, {b1, b3.Addr(), "1->3"},
			{b3, b1.Addr(), "3->1"}, {b2, b3.Addr(), "2->3"}, {b3, b2.Addr(), "3->2"},
			{b1, rootAddr, "1->root"}, {b2, rootAddr, "2->root"}, {b3, rootAddr, "3->root"},
		}
	}
	expect := func(stage string, cut map[string]bool) {
		t.Helper()
		for _, pa := range all() {
			if cut[pa.name] {
				if reaches(t, pa.from, pa.to) {
					t.Errorf("%s: path %s reachable, want cut", stage, pa.name)
				}
				continue
			}
			// A cut takes effect at once; a healed path can need a
			// moment more: the dial during the fault left a FAILED
			// neighbour entry that the kernel resolves again first.
			poll.True(t, 10*time.Second, stage+": path "+pa.name+" reachable", func() bool {
				return reaches(t, pa.from, pa.to)
			})
		}
	}
	expect("before faults", nil)

	if err := b1.CutFromPeers(); err != nil {
		t.Fatal(err)
	}
	expect("broker 1 cut from peers", map[string]bool{"1->2": true, "2->1": true, "1->3": true, "3->1": true})
	if !accepts(b1.Addr()) {
		t.Error("the root namespace cannot reach broker 1 cut from its peers")
	}
	if err := b2.CutFromPeers(); err != nil {
		t.Fatal(err)
	}
	if err := b1.Heal(); err != nil {
		t.Fatal(err)
	}
	// Broker 2 is still cut: healing 1 must not reopen 1<->2.
	expect("broker 2 still cut after healing 1", map[string]bool{"1->2": true, "2->1": true, "2->3": true, "3->2": true})
	if err := b2.Heal(); err != nil {
		t.Fatal(err)
	}
	expect("all healed", nil)

	if err := b3.Isolate(); err != nil {
		t.Fatal(err)
	}
	if accepts(b3.Addr()) {
		t.Error("the root namespace reaches isolated broker 3")
	}
	if reaches(t, b1, b3.Addr()) {
		t.Error("broker 1 reaches isolated broker 3")
	}
	if err := b3.Heal(); err != nil {
		t.Fatal(err)
	}
	expect("isolation healed", nil)

	// Signals reach the broker in its namespace.
	if err := b2.Stop(); err != nil {
		t.Fatal(err)
	}
	waitState(t, b2.PID(), true)
	if err := b2.Cont(); err != nil {
		t.Fatal(err)
	}
	waitState(t, b2.PID(), false)
	if err := b2.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := b2.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	if nsInode(t, fmt.Sprint(b2.PID())) == own {
		t.Error("restarted broker 2 is not in its namespace")
	}
	expect("after restart", nil)

	names := []string{b1.NetNS(), b2.NetNS(), b3.NetNS()}
	bridge := c.net.bridge()
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	assertGone(t, names, bridge)
	if err := b1.CutFromPeers(); err == nil {
		t.Error("CutFromPeers after Close succeeded")
	}
}

// assertGone fails unless none of the namespaces nor the bridge exist.
func assertGone(t *testing.T, namespaces []string, bridge string) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v: %s", err, out)
	}
	for _, ns := range namespaces {
		if strings.Contains(string(out), ns) {
			t.Errorf("namespace %s still exists", ns)
		}
	}
	if exec.Command("ip", "link", "show", "dev", bridge).Run() == nil {
		t.Errorf("bridge %s still exists", bridge)
	}
}

func TestNetNSFaultsNeedNetNS(t *testing.T) {
	c := startFake(t, 1, "serve", Options{})
	b := c.Broker(1)
	for name, f := range map[string]func() error{"CutFromPeers": b.CutFromPeers, "Isolate": b.Isolate, "Heal": b.Heal} {
		if err := f(); !errors.Is(err, errNotNetNS) {
			t.Errorf("%s without NetNS = %v, want %v", name, err, errNotNetNS)
		}
	}
}

// TestNetNSSweepsStale leaves what a killed harness would (a bridge owned
// by a dead process with its namespace, and a namespace whose bridge is
// gone) and checks that the next network removes exactly those.
func TestNetNSSweepsStale(t *testing.T) {
	skipWithoutNetNS(t)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	staleTag, orphanTag, liveTag := randomHex(3), randomHex(3), randomHex(3)
	staleBridge, liveBridge := namePrefix+staleTag, namePrefix+liveTag
	staleNS, orphanNS, liveNS := nsPrefix+"-"+staleTag+"-b1", nsPrefix+"-"+orphanTag+"-b1", nsPrefix+"-"+liveTag+"-b1"
	t.Cleanup(func() {
		for _, ns := range []string{staleNS, orphanNS, liveNS} {
			_ = exec.Command("ip", "netns", "del", ns).Run()
		}
		for _, br := range []string{staleBridge, liveBridge} {
			_ = exec.Command("ip", "link", "del", "dev", br).Run()
		}
	})
	ip("link", "add", "name", staleBridge, "type", "bridge")
	ip("link", "set", "dev", staleBridge, "alias", aliasMark+fmt.Sprint(dead.Process.Pid))
	ip("netns", "add", staleNS)
	ip("netns", "add", orphanNS)
	// A concurrent live harness: its objects must survive.
	ip("link", "add", "name", liveBridge, "type", "bridge")
	ip("link", "set", "dev", liveBridge, "alias", aliasMark+fmt.Sprint(os.Getpid()))
	ip("netns", "add", liveNS)

	n, err := newNetwork([]int32{1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.teardown() })
	assertGone(t, []string{staleNS, orphanNS}, staleBridge)
	out, _ := exec.Command("ip", "netns", "list").CombinedOutput()
	if !strings.Contains(string(out), liveNS) || exec.Command("ip", "link", "show", "dev", liveBridge).Run() != nil {
		t.Errorf("the sweep removed a live harness's objects; namespaces:\n%s", out)
	}
	if !strings.Contains(string(out), n.ns(1)) {
		t.Errorf("the new network's namespace %s is missing:\n%s", n.ns(1), out)
	}
	if err := n.teardown(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, []string{n.ns(1)}, n.bridge())
}
