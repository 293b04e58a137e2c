package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kafki/kafki/internal/poll"
	"github.com/twmb/franz-go/pkg/kadm"
)

// kafkiBin is the kafki binary, built once per test run by buildKafki.
var kafkiBin struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if kafkiBin.dir != "" {
		os.RemoveAll(kafkiBin.dir)
	}
	os.Exit(code)
}

func buildKafki(t *testing.T) string {
	t.Helper()
	kafkiBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "kafki-bin")
		if err != nil {
			kafkiBin.err = err
			return
		}
		kafkiBin.dir = dir
		kafkiBin.path = filepath.Join(dir, "kafki")
		out, err := exec.Command("go", "build", "-o", kafkiBin.path, "github.com/kafki/kafki/brokerd/cmd/kafki").CombinedOutput()
		if err != nil {
			kafkiBin.err = fmt.Errorf("go build kafki: %v\n%s", err, out)
		}
	})
	if kafkiBin.err != nil {
		t.Fatal(kafkiBin.err)
	}
	return kafkiBin.path
}

// pos is a record's partition and offset.
type pos struct {
	p int32
	o int64
}

// procOutput collects "partition offset value" lines of a child process.
type procOutput struct {
	mu   sync.Mutex
	seen map[pos]int
	done chan struct{}
}

func (po *procOutput) has(p pos) bool {
	po.mu.Lock()
	defer po.mu.Unlock()
	return po.seen[p] > 0
}

func (po *procOutput) snapshot() map[pos]int {
	po.mu.Lock()
	defer po.mu.Unlock()
	out := make(map[pos]int, len(po.seen))
	for k, v := range po.seen {
		out[k] = v
	}
	return out
}

// startProc runs a command printing "%p %o %v" lines and collects them.
func startProc(t *testing.T, name string, args ...string) (*exec.Cmd, *procOutput) {
	t.Helper()
	cmd := exec.Command(name, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if os.Getenv("KAFKI_TEST_LOG") != "" {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	po := &procOutput{seen: map[pos]int{}, done: make(chan struct{})}
	go func() {
		defer close(po.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var p pos
			var v string
			if _, err := fmt.Sscanf(sc.Text(), "%d %d %s", &p.p, &p.o, &v); err != nil {
				continue
			}
			po.mu.Lock()
			po.seen[p]++
			po.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd, po
}

func unionHas(outs []*procOutput, want []pos) bool {
	for _, p := range want {
		found := false
		for _, o := range outs {
			if o.has(p) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// endPositions lists every (partition, offset) below the end offsets.
func endPositions(t *testing.T, adm *kadm.Client, topic string) []pos {
	t.Helper()
	ends, err := adm.ListEndOffsets(ctxT(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	var out []pos
	ends.Each(func(o kadm.ListedOffset) {
		for off := int64(0); off < o.Offset; off++ {
			out = append(out, pos{o.Partition, off})
		}
	})
	return out
}

// A member killed with SIGKILL (no LeaveGroup) loses its partitions after
// its session timeout; the survivor resumes from the last committed
// offsets: no record is missed, only records after the last commit are
// delivered twice, and the victim's printed but uncommitted records are.
func TestGroupKilledMemberPartitionsMoveAtLeastOnce(t *testing.T) {
	bin := buildKafki(t)
	b := startGroupBroker(t)
	addr := b.Addr()
	adm := kadm.NewClient(newClient(t, addr))
	createTopic(t, newClient(t, addr), "crash", 4, nil)
	prod := producer(t, addr, "crash")
	produceValues(t, prod, "crash", "a", 200)

	args := []string{"consume", "--bootstrap-server", addr, "--topic", "crash", "--group", "crashers", "--from-beginning",
		"--session-timeout", "1s", "--commit-interval", "100ms", "--format", `%p %o %v\n`}
	victim, vOut := startProc(t, bin, args...)
	_, sOut := startProc(t, bin, args...)
	outs := []*procOutput{vOut, sOut}
	waitStable(t, b, addr, "crashers", 2, 4)
	poll.True(t, 20*time.Second, "the first 200 records", func() bool { return unionHas(outs, endPositions(t, adm, "crash")) })
	// ... and committed, so the victim dies with a last commit to resume
	// from, not with none.
	poll.True(t, 20*time.Second, "the first 200 records committed", func() bool {
		committed, err := adm.FetchOffsets(ctxT(t), "crashers")
		if err != nil {
			t.Fatal(err)
		}
		sum := int64(0)
		committed.Each(func(o kadm.OffsetResponse) { sum += o.At })
		return sum == 200
	})

	// Records arrive while the victim dies. The kill must land between
	// a print and the commit covering it (the CLI commits only what it
	// printed), or nothing would be due for redelivery: freeze the victim
	// (SIGSTOP: it can neither print nor commit) as soon as it printed a
	// new record, and kill it if it printed a record its group has not
	// committed yet; otherwise (a commit tick came first) let it go on
	// and try again with more records.
	uncommitted := func() bool {
		committed, err := adm.FetchOffsets(ctxT(t), "crashers")
		if err != nil {
			t.Fatal(err)
		}
		for p := range vOut.snapshot() {
			if c, ok := committed.Lookup("crash", p.p); !ok || p.o >= c.At {
				return true
			}
		}
		return false
	}
	for attempt := 0; ; attempt++ {
		if attempt == 20 {
			t.Fatal("the victim's commits always covered what it printed")
		}
		printed := len(vOut.snapshot())
		produceValues(t, prod, "crash", fmt.Sprintf("b%d", attempt), 100)
		poll.True(t, 20*time.Second, "the victim printing new records", func() bool { return len(vOut.snapshot()) > printed })
		if err := victim.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		if uncommitted() {
			break
		}
		if err := victim.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
	}
	if err := victim.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	<-vOut.done
	committed, err := adm.FetchOffsets(ctxT(t), "crashers")
	if err != nil {
		t.Fatal(err)
	}

	d := waitStable(t, b, addr, "crashers", 1, 4)
	if took := time.Since(killed); took < 500*time.Millisecond {
		t.Fatalf("partitions moved %v after the kill, before the 1s session timeout", took)
	}
	_ = d
	// New records end the survivor's pending long poll on its old
	// partitions (fetch.max.wait, 5s), so its next fetch asks for the
	// partitions it took over without waiting that out.
	produceValues(t, prod, "crash", "nudge", 4)
	all := endPositions(t, adm, "crash")
	// The new owner resumes at the last commit: it alone delivers every
	// record from there to the end.
	var fromCommit []pos
	for _, p := range all {
		if c, ok := committed.Lookup("crash", p.p); !ok || p.o >= c.At {
			fromCommit = append(fromCommit, p)
		}
	}
	poll.True(t, 20*time.Second, "every record after the kill", func() bool {
		return unionHas(outs, all) && unionHas([]*procOutput{sOut}, fromCommit)
	})

	victimSaw := vOut.snapshot()
	redelivered := 0
	for p, n := range sOut.snapshot() {
		if victimSaw[p] == 0 && n == 1 {
			continue
		}
		if c, ok := committed.Lookup("crash", p.p); ok && p.o < c.At {
			t.Fatalf("record %d@%d delivered again though committed offset is %d", p.p, p.o, c.At)
		}
		redelivered++
	}
	// The victim died with printed but uncommitted records: the new owner
	// resumed from the last commit and so delivered them again.
	due := 0
	for p := range victimSaw {
		if c, ok := committed.Lookup("crash", p.p); !ok || p.o >= c.At {
			due++
			if sOut.snapshot()[p] == 0 {
				t.Errorf("record %d@%d, printed by the victim after its last commit (%d), never reached the new owner", p.p, p.o, c.At)
			}
		}
	}
	if due == 0 || redelivered == 0 {
		t.Fatalf("no redelivery: %d records due again after the victim's last commit, %d delivered twice", due, redelivered)
	}
	t.Logf("%d records printed by the victim after its last commit were delivered again", due)
	// The survivor owns everything now: new records all reach it.
	produceValues(t, prod, "crash", "c", 40)
	all = endPositions(t, adm, "crash")
	poll.True(t, 20*time.Second, "records produced after the move", func() bool { return unionHas([]*procOutput{sOut}, all[len(all)-1:]) })
}

// kcat's balanced consumer (librdkafka) with two members consumes every
// record exactly once.
func TestGroupKcatBalancedConsumer(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatalf("kcat is not on PATH (%v): run `make test-deps`, which installs it (Debian package kcat)", err)
	}
	b := startGroupBroker(t)
	addr := b.Addr()
	adm := kadm.NewClient(newClient(t, addr))
	createTopic(t, newClient(t, addr), "kc", 4, nil)
	args := []string{"-b", addr, "-G", "kcats", "-u", "-q", "-f", `%p %o %s\n`,
		"-X", "auto.offset.reset=earliest", "-X", "session.timeout.ms=3000", "-X", "heartbeat.interval.ms=100",
		"-X", "fetch.wait.max.ms=100", "kc"}
	_, o1 := startProc(t, kcat, args...)
	_, o2 := startProc(t, kcat, args...)
	waitStable(t, b, addr, "kcats", 2, 4)
	produceValues(t, producer(t, addr, "kc"), "kc", "k", 200)
	all := endPositions(t, adm, "kc")
	poll.True(t, 20*time.Second, "kcat members to print every record", func() bool { return unionHas([]*procOutput{o1, o2}, all) })
	// A window for late duplicates to show before asserting there are
	// none: absence cannot be awaited as a condition.
	time.Sleep(200 * time.Millisecond)
	s1, s2 := o1.snapshot(), o2.snapshot()
	if len(s1) == 0 || len(s2) == 0 {
		t.Fatalf("one member got nothing: %d and %d records", len(s1), len(s2))
	}
	for p, n := range s1 {
		if n != 1 || s2[p] != 0 {
			t.Fatalf("record %d@%d delivered %d+%d times", p.p, p.o, n, s2[p])
		}
	}
	for p, n := range s2 {
		if n != 1 {
			t.Fatalf("record %d@%d delivered %d times", p.p, p.o, n)
		}
	}
	_ = context.Background
}
