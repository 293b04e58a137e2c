package compat

// The suite's own Java test programs (java/, package io.kafki.compat),
// compiled with javac against the Kafka jars and run like Kafka's tools.
// The classes are cached next to the classpath file deps.sh writes, in a
// directory named by the hash of the sources and the classpath, so a run
// compiles only when either changed.

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// javaSources is the directory of the programs' sources.
const javaSources = "java"

// Main classes of the programs in java/.
const (
	txnShellMain  = "io.kafki.compat.TxnShell"
	wordCountMain = "io.kafki.compat.WordCount"
)

var compileOnce struct {
	sync.Once
	dir string
	err error
}

// log4jEnv names a log4j2 configuration for the suite's own programs in
// place of tools-log4j2.properties: to see what the Java client sends,
// e.g. logger org.apache.kafka.clients.NetworkClient at DEBUG logs every
// request's API key and version.
const log4jEnv = "KAFKI_COMPAT_LOG4J"

// programs is k with the compiled java/ programs ahead of Kafka's jars on
// its classpath, failing the test (never skipping it) when no javac is
// found or the sources do not compile.
func (k *kafka) programs(t *testing.T) *kafka {
	t.Helper()
	compileOnce.Do(func() { compileOnce.dir, compileOnce.err = compilePrograms(k) })
	if compileOnce.err != nil {
		t.Fatalf("compat: compiling %s/: %v", javaSources, compileOnce.err)
	}
	kp := *k
	kp.classpath = compileOnce.dir + string(os.PathListSeparator) + k.classpath
	if cfg := os.Getenv(log4jEnv); cfg != "" {
		kp.log4j = cfg
	}
	return &kp
}

func compilePrograms(k *kafka) (string, error) {
	var srcs []string
	err := filepath.WalkDir(javaSources, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".java") {
			srcs = append(srcs, p)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	sort.Strings(srcs)
	h := sha256.New()
	fmt.Fprintf(h, "classpath %s\n", k.classpath)
	for _, src := range srcs {
		b, err := os.ReadFile(src)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", src, len(b))
		h.Write(b)
	}
	cpFile, err := classpathFile()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(filepath.Dir(cpFile), "classes-"+hex.EncodeToString(h.Sum(nil))[:12])
	if _, err := os.Stat(filepath.Join(dir, "OK")); err == nil {
		return dir, nil
	}
	javac, err := findJavac(k.java)
	if err != nil {
		return "", fmt.Errorf("%w; %s", err, depsHint)
	}
	// Compiled into a directory of this run, then renamed: a concurrent
	// run never sees half the classes.
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "classes-tmp-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	args := append([]string{"-nowarn", "-encoding", "UTF-8", "--release", "17", "-cp", k.classpath, "-d", tmp}, srcs...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, javac, args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("javac: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(tmp, "OK"), nil, 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(filepath.Join(dir, "OK")); statErr != nil {
			return "", err
		}
	}
	return dir, nil
}

// findJavac is JAVA_HOME's javac, else the one beside java (symlinks
// resolved), else javac on PATH.
func findJavac(java string) (string, error) {
	var cands []string
	if home := os.Getenv("JAVA_HOME"); home != "" {
		cands = append(cands, filepath.Join(home, "bin", "javac"))
	}
	if real, err := filepath.EvalSymlinks(java); err == nil {
		cands = append(cands, filepath.Join(filepath.Dir(real), "javac"))
	}
	for _, c := range cands {
		if _, err := os.Stat(c); err == nil {
			return c, nil
		}
	}
	p, err := exec.LookPath("javac")
	if err != nil {
		return "", fmt.Errorf("no javac (a JDK, not only a JRE) found: %w", err)
	}
	return p, nil
}

// shell is a running TxnShell (java/io/kafki/compat/TxnShell.java): one
// command a line in, one answer a line out.
type shell struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    chan string // stdout lines; closed at exit
	stderr *syncBuffer
	done   chan struct{}
}

// shellTimeout bounds one command (a consume reads for up to 45 s).
const shellTimeout = 60 * time.Second

func (k *kafka) startShell(t *testing.T, b *broker) *shell {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sh := &shell{cmd: k.programs(t).command(ctx, txnShellMain, b.Bootstrap()), out: make(chan string, 1024), stderr: &syncBuffer{}, done: make(chan struct{})}
	sh.cmd.Stderr = sh.stderr
	var err error
	if sh.stdin, err = sh.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := sh.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sh.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start TxnShell: %v", err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			sh.out <- sc.Text()
		}
		close(sh.out)
		_ = sh.cmd.Wait()
		close(sh.done)
	}()
	t.Cleanup(func() {
		sh.stdin.Close()
		select {
		case <-sh.done:
		case <-time.After(stopTimeout):
			cancel()
			<-sh.done
		}
		cancel()
		if os.Getenv(log4jEnv) != "" {
			keep := filepath.Join(os.TempDir(), fmt.Sprintf("kafki-compat-txnshell-%d.log", os.Getpid()))
			if err := os.WriteFile(keep, []byte(sh.stderr.String()), 0o644); err == nil {
				t.Logf("TxnShell's log (%s) in %s", log4jEnv, keep)
			}
		}
		if t.Failed() {
			t.Logf("TxnShell stderr, last lines:\n%s", tail(sh.stderr.String(), 30))
		}
	})
	return sh
}

// do runs one command and returns its answer ("ok ..." or "err ...") and
// the lines printed before it.
func (sh *shell) do(t *testing.T, command string) (answer string, before []string) {
	t.Helper()
	start := time.Now()
	if _, err := io.WriteString(sh.stdin, command+"\n"); err != nil {
		t.Fatalf("TxnShell %q: %v\nstderr:\n%s", command, err, tail(sh.stderr.String(), 30))
	}
	timeout := time.After(shellTimeout)
	for {
		select {
		case l, ok := <-sh.out:
			if !ok {
				t.Fatalf("TxnShell exited during %q\nstderr:\n%s", command, tail(sh.stderr.String(), 30))
			}
			if strings.HasPrefix(l, "ok") || strings.HasPrefix(l, "err ") {
				t.Logf("TxnShell %s: %s in %v", command, firstLine(shorten(l, 300)), time.Since(start).Round(time.Millisecond))
				return l, before
			}
			before = append(before, l)
		case <-timeout:
			t.Fatalf("TxnShell %q: no answer within %v\nstderr:\n%s", command, shellTimeout, tail(sh.stderr.String(), 30))
		}
	}
}

// must runs a command that has to succeed.
func (sh *shell) must(t *testing.T, command string) []string {
	t.Helper()
	answer, before := sh.do(t, command)
	if !strings.HasPrefix(answer, "ok") {
		t.Fatalf("TxnShell %s: %s", command, answer)
	}
	return before
}

// shellRecord is one "rec" line of consume.
type shellRecord struct {
	partition  int
	offset     int64
	key, value string
}

// consume reads topic from the beginning to its end offsets at isolation
// (read_committed or read_uncommitted) with the Java consumer.
func (sh *shell) consume(t *testing.T, isolation, topic string) []shellRecord {
	t.Helper()
	var out []shellRecord
	for _, l := range sh.must(t, "consume "+isolation+" "+topic) {
		var r shellRecord
		if _, err := fmt.Sscanf(l, "rec %d %d %s %s", &r.partition, &r.offset, &r.key, &r.value); err != nil {
			t.Fatalf("TxnShell consume: line %q: %v", l, err)
		}
		out = append(out, r)
	}
	return out
}

func shorten(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
