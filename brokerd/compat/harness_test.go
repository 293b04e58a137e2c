package compat

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kafki/kafki/internal/poll"
	"github.com/kafki/kafki/loadtest/brokerproc"
)

// brokerdBin is the broker binary TestMain builds, read-only afterwards.
var brokerdBin string

const (
	readyTimeout = 15 * time.Second // brokerd start until it reports its address
	stopTimeout  = 15 * time.Second // SIGTERM until exit
	toolTimeout  = 60 * time.Second // one run of a Kafka tool
	pollInterval = 50 * time.Millisecond

	depsHint = "run `make compat-deps` to install Java 17+ and Maven and fetch Apache Kafka's jars"
)

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "kafki-compat-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "compat: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin, err := brokerproc.BuildBrokerd(dir, false)
	if err != nil {
		fmt.Fprintf(os.Stderr, "compat: %v\n", err)
		return 1
	}
	brokerdBin = bin
	return m.Run()
}

// broker is one brokerd process under test.
type broker struct {
	Port string
	proc *brokerproc.Process
	log  *syncBuffer
}

// Bootstrap is the address as the Kafka quickstart spells it.
func (b *broker) Bootstrap() string { return "localhost:" + b.Port }

// Addr is the loopback address for Go clients.
func (b *broker) Addr() string { return "127.0.0.1:" + b.Port }

// startBroker starts brokerd on a free loopback port (it binds port 0 and
// logs the address it got) with a fresh data directory, at debug level so
// that requests it does not serve are in its log. It is stopped with
// SIGTERM at cleanup, and its log is shown when the test failed.
func startBroker(t *testing.T, flags ...string) *broker {
	t.Helper()
	args := append([]string{
		"--listen=127.0.0.1:0",
		"--data.dir=" + t.TempDir(),
		"--metrics.listen=",
		"--log.level=debug",
		"--log.format=json",
	}, flags...)
	b := &broker{log: &syncBuffer{}}
	addr := make(chan string, 1)
	cmd := exec.Command(brokerdBin, args...)
	cmd.Stdout = b.log
	// Copy the log and report the address the broker bound.
	cmd.Stderr = &lineWriter{w: b.log, line: func(line []byte) {
		var rec struct {
			Msg    string `json:"msg"`
			Listen string `json:"listen"`
		}
		if json.Unmarshal(line, &rec) == nil && rec.Msg == "broker started" {
			select {
			case addr <- rec.Listen:
			default:
			}
		}
	}}
	var err error
	if b.proc, err = brokerproc.Start(cmd); err != nil {
		t.Fatalf("start brokerd: %v", err)
	}
	t.Cleanup(func() {
		b.stop(t)
		if t.Failed() {
			t.Logf("brokerd log, last lines:\n%s", tail(b.log.String(), 40))
			if u := b.unsupported(); len(u) > 0 {
				t.Logf("requests brokerd does not serve:\n%s", strings.Join(u, "\n"))
			}
		}
	})
	select {
	case a := <-addr:
		_, port, err := net.SplitHostPort(a)
		if err != nil {
			t.Fatalf("brokerd reported listen address %q: %v", a, err)
		}
		b.Port = port
	case <-b.proc.Exited():
		t.Fatalf("brokerd exited before listening: %v\n%s", b.proc.State(), b.log.String())
	case <-time.After(readyTimeout):
		t.Fatalf("brokerd did not report its address within %v\n%s", readyTimeout, b.log.String())
	}
	return b
}

func (b *broker) stop(t *testing.T) {
	if b.proc.Terminate(stopTimeout) {
		t.Errorf("brokerd did not stop within %v of SIGTERM; killed it", stopTimeout)
	}
}

// lineWriter passes every complete line written to it to line, then on
// to w; the broker's stderr goes through it, so the harness sees each log
// record as it is written.
type lineWriter struct {
	w       *syncBuffer
	line    func([]byte)
	mu      sync.Mutex
	partial []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := l.partial[:i+1]
		l.w.Write(line)
		l.line(line[:i])
		l.partial = l.partial[i+1:]
	}
}

// unsupported lists the requests the broker refused as unsupported, from
// its log, to name them in a failure.
func (b *broker) unsupported() []string {
	var out []string
	for _, line := range strings.Split(b.log.String(), "\n") {
		if strings.Contains(line, `"unsupported request"`) {
			out = append(out, line)
		}
	}
	return out
}

// kafka runs Kafka's tools: a java and the classpath of Kafka's jars.
type kafka struct {
	java      string
	classpath string
	log4j     string // absolute path of tools-log4j2.properties
}

// kafkaTools finds java and Kafka's classpath, failing the test (never
// skipping it) with how to install them when either is missing.
func kafkaTools(t *testing.T) *kafka {
	t.Helper()
	java, err := findJava()
	if err != nil {
		t.Fatalf("compat: %v; %s", err, depsHint)
	}
	cp, err := findClasspath()
	if err != nil {
		t.Fatalf("compat: %v; %s", err, depsHint)
	}
	log4j, err := filepath.Abs("tools-log4j2.properties")
	if err != nil {
		t.Fatal(err)
	}
	return &kafka{java: java, classpath: cp, log4j: log4j}
}

func findJava() (string, error) {
	if home := os.Getenv("JAVA_HOME"); home != "" {
		p := filepath.Join(home, "bin", "java")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("java")
	if err != nil {
		return "", fmt.Errorf("no java found (JAVA_HOME unset or without bin/java, none on PATH): %w", err)
	}
	return p, nil
}

// findClasspath returns KAFKI_KAFKA_CLASSPATH, or else the classpath file
// deps.sh writes, checking that every jar it names exists.
func findClasspath() (string, error) {
	cp := os.Getenv("KAFKI_KAFKA_CLASSPATH")
	src := "KAFKI_KAFKA_CLASSPATH"
	if cp == "" {
		file, err := classpathFile()
		if err != nil {
			return "", err
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("no Kafka classpath: %w", err)
		}
		cp, src = strings.TrimSpace(string(b)), file
	}
	if cp == "" {
		return "", fmt.Errorf("Kafka classpath from %s is empty", src)
	}
	for _, jar := range filepath.SplitList(cp) {
		if strings.HasSuffix(jar, "*") {
			continue
		}
		if _, err := os.Stat(jar); err != nil {
			return "", fmt.Errorf("Kafka classpath from %s names a missing jar: %w", src, err)
		}
	}
	return cp, nil
}

// classpathFile is where deps.sh writes the classpath for pom.xml's
// kafka.version.
func classpathFile() (string, error) {
	pom, err := os.ReadFile("pom.xml")
	if err != nil {
		return "", fmt.Errorf("reading the Kafka version: %w", err)
	}
	_, rest, ok := strings.Cut(string(pom), "<kafka.version>")
	version, _, ok2 := strings.Cut(rest, "</kafka.version>")
	if !ok || !ok2 || strings.TrimSpace(version) == "" {
		return "", errors.New("pom.xml has no <kafka.version>")
	}
	cache := os.Getenv("KAFKI_KAFKA_CACHE")
	if cache == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("no cache directory for Kafka's jars: %w", err)
		}
		cache = filepath.Join(dir, "kafki")
	}
	// deps.sh names the file by pom.xml's content (its SHA-256, 12 hex
	// digits), so that poms of other branches do not overwrite it.
	sum := sha256.Sum256(pom)
	return filepath.Join(cache, "kafka-"+strings.TrimSpace(version), "classpath-"+hex.EncodeToString(sum[:])[:12]), nil
}

// Kafka 4.x main classes of the scripts in Kafka's bin/.
const (
	topicsTool         = "org.apache.kafka.tools.TopicCommand"                        // kafka-topics.sh
	consoleProducer    = "org.apache.kafka.tools.ConsoleProducer"                     // kafka-console-producer.sh
	consoleConsumer    = "org.apache.kafka.tools.consumer.ConsoleConsumer"            // kafka-console-consumer.sh
	consumerGroupsTool = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand" // kafka-consumer-groups.sh
	producerPerfTest   = "org.apache.kafka.tools.ProducerPerformance"                 // kafka-producer-perf-test.sh
	getOffsetsTool     = "org.apache.kafka.tools.GetOffsetShell"                      // kafka-get-offsets.sh
)

// command builds the java command for main with args. The JVM options keep
// start-up short on small machines; log4j logs warnings and errors to
// stderr, as Kafka's own tools-log4j2 configuration does.
func (k *kafka) command(ctx context.Context, main string, args ...string) *exec.Cmd {
	jvm := []string{
		"-Xshare:auto", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx512m",
		"-Dlog4j2.configurationFile=" + k.log4j,
		"-cp", k.classpath, main,
	}
	cmd := exec.CommandContext(ctx, k.java, append(jvm, args...)...)
	cmd.Cancel = func() error { return cmd.Process.Kill() }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// result is one finished tool run.
type result struct {
	stdout, stderr string
	err            error
}

// run runs a tool to its end with stdin (may be nil) and returns its output.
func (k *kafka) run(t *testing.T, stdin string, main string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), toolTimeout)
	defer cancel()
	cmd := k.command(ctx, main, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s did not finish within %v: %w", main, toolTimeout, err)
	}
	t.Logf("%s %s: %v in %v", shortName(main), strings.Join(args, " "), errOrOK(err), time.Since(start).Round(time.Millisecond))
	return result{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

// mustRun is run that fails the test when the tool fails or logs an error.
func (k *kafka) mustRun(t *testing.T, stdin string, main string, args ...string) result {
	t.Helper()
	r := k.run(t, stdin, main, args...)
	if r.err != nil || len(errorLines(r.stderr)) > 0 {
		t.Fatalf("%s %s: %v%s\nstdout:\n%s\nstderr:\n%s", shortName(main), strings.Join(args, " "), errOrOK(r.err), javaHint(r.stderr), r.stdout, r.stderr)
	}
	return r
}

// javaProc is a tool left running (a console consumer), its output
// readable while it runs.
type javaProc struct {
	name           string
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan struct{}
	err            error // set before done closes
}

// start starts a tool that runs until stopped; it is killed at cleanup if
// still running.
func (k *kafka) start(t *testing.T, main string, args ...string) *javaProc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*toolTimeout)
	p := &javaProc{name: shortName(main), cmd: k.command(ctx, main, args...), stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", main, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		cancel()
		close(p.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-p.done
	})
	return p
}

// stop sends SIGTERM, which makes Kafka's console consumer close its
// consumer (committing and leaving the group), and waits for the exit.
func (p *javaProc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		t.Errorf("%s did not exit within %v of SIGTERM", p.name, stopTimeout)
		p.cmd.Process.Kill()
		<-p.done
	}
}

// exited reports whether the process has ended.
func (p *javaProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// errorLines returns the lines of a tool's stderr that report an error: an
// ERROR log line or an exception.
func errorLines(stderr string) []string {
	var out []string
	for _, line := range strings.Split(stderr, "\n") {
		if strings.Contains(line, "] ERROR ") || strings.Contains(line, "Exception") {
			out = append(out, line)
		}
	}
	return out
}

// javaHint explains failures that mean the Java side is not set up.
func javaHint(stderr string) string {
	switch {
	case strings.Contains(stderr, "UnsupportedClassVersionError"):
		return " (Kafka 4.x needs Java 17 or newer; " + depsHint + ")"
	case strings.Contains(stderr, "ClassNotFoundException"), strings.Contains(stderr, "NoClassDefFoundError"):
		return " (the Kafka classpath is incomplete; " + depsHint + ")"
	}
	return ""
}

// waitFor waits until cond holds (package poll) and fails with what()
// describing the state the tools last showed.
func waitFor(t *testing.T, timeout time.Duration, what func() string, cond func() bool) {
	t.Helper()
	poll.Must(t, timeout, "compat", func() error {
		if cond() {
			return nil
		}
		return errors.New(what())
	})
}

func shortName(main string) string { return main[strings.LastIndex(main, ".")+1:] }

func errOrOK(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// lines splits output into its non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimRight(l, "\r"); strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

func tail(s string, n int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "\n")
}

// syncBuffer is a bytes.Buffer safe for a writer and concurrent readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
