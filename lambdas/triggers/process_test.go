package triggers_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/loadtest/brokerproc"
)

// procEnv is a brokerd process with its admin endpoint, and the kafki and
// kafki-triggers binaries.
type procEnv struct {
	*env
	broker, admin string
	kafki, runner string
}

func buildTool(t *testing.T, envVar, pkg, dir string) string {
	if p := os.Getenv(envVar); p != "" && envVar != "" {
		return p
	}
	bin := filepath.Join(dir, filepath.Base(pkg))
	out, err := exec.Command(brokerproc.GoTool(), "build", "-o", bin, pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

func startProcBroker(t *testing.T, e *env, extra ...string) *procEnv {
	t.Helper()
	dir := t.TempDir()
	addrs, err := brokerproc.FreeLoopbackAddrs(2)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--listen=" + addrs[0], "--data.dir=" + filepath.Join(dir, "data"), "--metrics.listen=" + addrs[1],
		"--log.level=warn", "--group.min.session.timeout=1s"}
	cmd := exec.Command(e.brokerd, append(args, extra...)...)
	tail := brokerproc.NewTailBuffer(8<<10, "")
	cmd.Stdout, cmd.Stderr = tail, tail
	p, err := brokerproc.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Terminate(5 * time.Second) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, a := range addrs {
		if err := brokerproc.WaitListening(ctx, a, p.Exited(), 20*time.Millisecond); err != nil {
			t.Fatalf("brokerd: %v: %s", err, tail.LastLine())
		}
	}
	return &procEnv{env: e, broker: addrs[0], admin: "http://" + addrs[1],
		kafki:  buildTool(t, "KAFKI_KAFKI_BIN", "github.com/kafki/kafki/brokerd/cmd/kafki", dir),
		runner: buildTool(t, "KAFKI_TRIGGERS_BIN", "github.com/kafki/kafki/lambdas/cmd/kafki-triggers", dir)}
}

// cli runs kafki with args against the broker.
func (p *procEnv) cli(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(p.kafki, append(args, "--bootstrap-server", p.broker, "--admin", p.admin)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func (p *procEnv) startRunner(t *testing.T, name string) *brokerproc.Process {
	t.Helper()
	cmd := exec.Command(p.runner, "--bootstrap-server", p.broker, "--admin", p.admin, "--instance", name,
		"--poll.interval=200ms", "--session.timeout=3s", "--retry.base=50ms", "--retry.max=500ms", "--log.level=info")
	log, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	proc, err := brokerproc.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		proc.Terminate(5 * time.Second)
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("%s log:\n%s", name, b)
		}
	})
	return proc
}

func TestCLIManagesTriggersAndRejectsBadDefinitions(t *testing.T) {
	e := setup(t)
	// The broker runs the triggers itself (make run's single node).
	p := startProcBroker(t, e, "--triggers.enable")
	e.createTable(t, "cli-rec", true)
	e.createFunction(t, "cli-recorder", "recorder", map[string]string{"RECORDER_TABLE": "cli-rec", "RECORDER_NAME": "cli"})
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--function", "no-such-function", "--topic", "t"}, `function "no-such-function" does not exist`},
		{[]string{"--function", "cli-recorder", "--topic", "t", "--batch-size", "0"}, "batch size 0"},
		{[]string{"--function", "cli-recorder", "--topic", "t", "--batch-size", "10001"}, "batch size 10001"},
		{[]string{"--function", "cli-recorder", "--topic", "t", "--filter", `{"value":{"a":[{"bogus":1}]}}`}, `unknown operator "bogus"`},
	} {
		_, stderr, code := p.cli(t, append([]string{"triggers", "create", "--trigger", "bad"}, tc.args...)...)
		if code == 0 || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("create %v: exit %d, stderr %q; want one line with %q", tc.args, code, stderr, tc.want)
		}
	}
	if out, stderr, code := p.cli(t, "triggers", "create", "--trigger", "cli", "--function", "cli-recorder", "--topic", "cli", "--starting-position", "TRIM_HORIZON"); code != 0 {
		t.Fatalf("create: %d %s %s", code, out, stderr)
	}
	if _, stderr, code := p.cli(t, "triggers", "create", "--trigger", "cli", "--function", "cli-recorder", "--topic", "cli"); code == 0 || !strings.Contains(stderr, "already exists") {
		t.Fatalf("second create: %d %s", code, stderr)
	}
	for _, args := range [][]string{{"disable"}, {"enable"}, {"update", "--batch-size", "7"}} {
		if out, stderr, code := p.cli(t, append([]string{"triggers", args[0], "--trigger", "cli"}, args[1:]...)...); code != 0 {
			t.Fatalf("%v: %d %s %s", args, code, out, stderr)
		}
	}
	out, _, _ := p.cli(t, "triggers", "list")
	if !strings.Contains(out, "cli") || !strings.Contains(out, "cli-recorder") {
		t.Fatalf("list: %s", out)
	}
	cl := e.kafkaAt(t, p.broker)
	createTopic(t, cl, "cli", 1)
	produceValues(t, cl, "cli", "a", "b", "c")
	eventually(t, 30*time.Second, "describe shows the trigger running, with no lag", func() (bool, string) {
		out, stderr, _ := p.cli(t, "triggers", "describe", "--trigger", "cli")
		return strings.Contains(out, "State:                   running") && strings.Contains(out, "Batch size / window:     7") &&
			strings.Contains(out, "cli    0          3          3               0") &&
			regexp.MustCompile(`(?m)^\S+:\d+\s+running\s+1\s+ok\s+3\s+0\s+\d+s ago$`).MatchString(out), out + stderr
	})
	if _, stderr, code := p.cli(t, "triggers", "delete", "--trigger", "cli"); code != 0 {
		t.Fatal(stderr)
	}
	if _, stderr, code := p.cli(t, "triggers", "describe", "--trigger", "cli"); code == 0 || !strings.Contains(stderr, "no such trigger") {
		t.Fatalf("describe after delete: %d %s", code, stderr)
	}
}

func (e *env) kafkaAt(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.AllowAutoTopicCreation()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Two kafki-triggers processes split a trigger; one is SIGKILLed mid-
// stream; the other takes its partitions. Nothing is lost, and only
// uncommitted batches are delivered twice.
func TestKilledRunnerIsTakenOverWithoutLoss(t *testing.T) {
	e := setup(t)
	p := startProcBroker(t, e)
	e.createTable(t, "kill-rec", true)
	e.createFunction(t, "kill-recorder", "recorder", map[string]string{"RECORDER_TABLE": "kill-rec", "RECORDER_NAME": "kill"})
	cl := e.kafkaAt(t, p.broker, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	createTopic(t, cl, "kill", 6)
	if _, stderr, code := p.cli(t, "triggers", "create", "--trigger", "kill", "--function", "kill-recorder", "--topic", "kill",
		"--starting-position", "TRIM_HORIZON", "--batch-size", "20", "--batching-window", "100ms"); code != 0 {
		t.Fatal(stderr)
	}
	a := p.startRunner(t, "a")
	p.startRunner(t, "b")
	// A steady stream: 3,000 records over about 6 s.
	const total = 3000
	ends := map[int32]int64{}
	var mu sync.Mutex
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for i := 0; i < total; i += 50 {
			var recs []*kgo.Record
			for j := i; j < i+50; j++ {
				recs = append(recs, &kgo.Record{Topic: "kill", Value: []byte(fmt.Sprint(j))})
			}
			res := cl.ProduceSync(context.Background(), recs...)
			mu.Lock()
			for _, r := range res {
				if r.Err == nil {
					ends[r.Record.Partition] = max(ends[r.Record.Partition], r.Record.Offset+1)
				}
			}
			mu.Unlock()
			time.Sleep(100 * time.Millisecond) // the stream's pace, not a synchronisation
		}
	}()
	eventually(t, 60*time.Second, "both runners delivering", func() (bool, string) {
		n := 0
		for _, b := range e.recorded(t, "kill-rec", "kill") {
			n += len(b.offsets)
		}
		return n >= 600, fmt.Sprint(n)
	})
	if err := a.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Now()
	<-produced
	mu.Lock()
	want := 0
	for _, end := range ends {
		want += int(end)
	}
	mu.Unlock()
	if want != total {
		t.Fatalf("produced %d of %d", want, total)
	}
	eventually(t, 90*time.Second, "the survivor delivers everything", func() (bool, string) {
		got := map[string]bool{}
		for _, b := range e.recorded(t, "kill-rec", "kill") {
			for _, o := range b.offsets {
				got[fmt.Sprint(b.partition, "/", o)] = true
			}
		}
		return len(got) == total, fmt.Sprintf("%d of %d distinct", len(got), total)
	})
	// describe: the trigger runs on b alone; a's entry, no longer
	// refreshed, expired (shown as gone, or dropped by b's next write).
	eventually(t, 30*time.Second, "describe shows b running every partition and a not running", func() (bool, string) {
		out, stderr, _ := p.cli(t, "triggers", "describe", "--trigger", "kill")
		return strings.Contains(out, "State:                   running") && regexp.MustCompile(`(?m)^Runner:\s+b$`).MatchString(out) &&
			regexp.MustCompile(`(?m)^b\s+running\s+6\s`).MatchString(out) && !regexp.MustCompile(`(?m)^a\s+running`).MatchString(out), out + stderr
	})
	dups := checkOrder(t, e.recorded(t, "kill-rec", "kill"), "kill", ends)
	t.Logf("runner a killed; everything delivered %v later; %d records delivered twice (uncommitted batches of the killed runner, batch size 20)",
		time.Since(killedAt).Round(100*time.Millisecond), dups)
	if dups > 6*20*2 {
		t.Fatalf("%d duplicates: more than two uncommitted batches per partition", dups)
	}
}
