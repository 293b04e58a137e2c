package compat

// Kafka Connect's JVMs under test (issue 16): a distributed worker
// (ConnectDistributed) or MirrorMaker 2's driver, each run from the jars
// deps.sh fetches, logging at INFO to a file of the test.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kafki/kafki/loadtest/brokerproc"
)

// Kafka 4.x main classes of Connect's scripts in Kafka's bin/.
const (
	connectDistributed = "org.apache.kafka.connect.cli.ConnectDistributed" // connect-distributed.sh
	mirrorMaker2       = "org.apache.kafka.connect.mirror.MirrorMaker"     // connect-mirror-maker.sh
)

// connectTimeout bounds a worker's start, a rebalance and a copy.
const connectTimeout = 90 * time.Second

// jvm is one long-running Connect JVM. Its log goes to a file, shown
// (the last lines) when the test fails.
type jvm struct {
	name    string
	proc    *brokerproc.Process
	logPath string
}

// startJVM starts main with args, logging at INFO through a log4j2
// configuration written next to the log.
func (k *kafka) startJVM(t *testing.T, name, main string, args ...string) *jvm {
	t.Helper()
	dir := t.TempDir()
	log4j := filepath.Join(dir, "log4j2.properties")
	cfg := strings.Join([]string{
		"status = error",
		"appender.file.type = Console",
		"appender.file.name = OUT",
		"appender.file.layout.type = PatternLayout",
		"appender.file.layout.pattern = [%d] %p %m (%c)%n",
		"rootLogger.level = info",
		"rootLogger.appenderRef.out.ref = OUT",
		// Connect's INFO lines from every client config dump are noise.
		"logger.config.name = org.apache.kafka.common.config.AbstractConfig",
		"logger.config.level = warn",
	}, "\n") + "\n"
	if err := os.WriteFile(log4j, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	jvmArgs := append([]string{
		"-Xshare:auto", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx512m",
		"-Dlog4j2.configurationFile=" + log4j,
		"-cp", k.classpath, main,
	}, args...)
	cmd := exec.Command(k.java, jvmArgs...)
	cmd.Stdout, cmd.Stderr = f, f
	proc, err := brokerproc.Start(cmd)
	_ = f.Close() // the child holds its own descriptor
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	j := &jvm{name: name, proc: proc, logPath: logPath}
	t.Cleanup(func() {
		if !j.proc.Done() {
			j.proc.Terminate(stopTimeout)
		}
		if t.Failed() {
			// The whole log outlives the test's directory.
			keep := filepath.Join(os.TempDir(), fmt.Sprintf("kafki-compat-%s-%d.log", name, os.Getpid()))
			if err := os.WriteFile(keep, []byte(j.log()), 0o644); err != nil {
				keep = err.Error()
			}
			t.Logf("%s log (all of it in %s), last lines:\n%s", name, keep, tail(j.log(), 60))
		}
	})
	return j
}

func (j *jvm) log() string {
	b, err := os.ReadFile(j.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return string(b)
}

// kill ends the JVM with SIGKILL: no shutdown hook runs, nothing is
// flushed or committed.
func (j *jvm) kill(t *testing.T) {
	t.Helper()
	if err := j.proc.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL %s: %v", j.name, err)
	}
	select {
	case <-j.proc.Exited():
	case <-time.After(stopTimeout):
		t.Fatalf("%s still running %v after SIGKILL", j.name, stopTimeout)
	}
}

// errors lists the ERROR lines of the JVM's log.
func (j *jvm) errors() []string {
	var out []string
	for _, l := range strings.Split(j.log(), "\n") {
		if strings.Contains(l, "] ERROR ") {
			out = append(out, l)
		}
	}
	return out
}

// freeLoopbackPort is a free port on 127.0.0.1, for a worker's REST API.
func freeLoopbackPort(t *testing.T) string {
	t.Helper()
	addrs, err := brokerproc.FreeLoopbackAddrs(1)
	if err != nil {
		t.Fatal(err)
	}
	_, port, err := net.SplitHostPort(addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// writeProperties writes a Java properties file of kv, sorted by key.
func writeProperties(t *testing.T, path string, kv map[string]string) {
	t.Helper()
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, kv[k])
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// rest is a Connect worker's REST API.
type rest struct {
	base string
	hc   *http.Client
}

func newREST(port string) *rest {
	return &rest{base: "http://127.0.0.1:" + port, hc: &http.Client{Timeout: 10 * time.Second}}
}

// do sends a request with a JSON body (nil for none) and decodes a JSON
// answer into out (nil to ignore it); a status of 300 or more is an error
// carrying the body.
func (r *rest) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(ctx, method, r.base+path, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := r.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(data)))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode %q: %w", method, path, data, err)
		}
	}
	return nil
}

// connectorStatus is GET /connectors/NAME/status.
type connectorStatus struct {
	Connector struct {
		State string `json:"state"`
	} `json:"connector"`
	Tasks []struct {
		ID    int    `json:"id"`
		State string `json:"state"`
		Trace string `json:"trace"`
	} `json:"tasks"`
}

// running is nil once the connector and all of its (at least one) tasks run.
func (s connectorStatus) running() error {
	if s.Connector.State != "RUNNING" {
		return fmt.Errorf("connector %s", s.Connector.State)
	}
	if len(s.Tasks) == 0 {
		return errors.New("no tasks yet")
	}
	for _, task := range s.Tasks {
		if task.State != "RUNNING" {
			return fmt.Errorf("task %d %s %s", task.ID, task.State, firstLine(task.Trace))
		}
	}
	return nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
