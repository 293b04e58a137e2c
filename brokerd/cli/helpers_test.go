package cli_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafki/kafki/brokerd/cli"
)

// result is what one kafki invocation produced.
type result struct {
	code   int
	stdout string
	stderr string
}

// kafki runs the tool in-process with KAFKI_BOOTSTRAP_SERVER set to
// bootstrap (empty: unset) and stdin as input.
func kafki(t testing.TB, bootstrap, stdin string, args ...string) result {
	t.Helper()
	return kafkiCtx(t, context.Background(), bootstrap, stdin, args...)
}

func kafkiCtx(t testing.TB, ctx context.Context, bootstrap, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	// A generous bound so a hang fails the test instead of the suite.
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	code := cli.Run(ctx, args, cli.Env{
		Stdin:  strings.NewReader(stdin),
		Stdout: &stdout,
		Stderr: &stderr,
		Getenv: envWith(bootstrap),
	})
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func envWith(bootstrap string) func(string) string {
	return func(k string) string {
		if k == "KAFKI_BOOTSTRAP_SERVER" {
			return bootstrap
		}
		return ""
	}
}

// mustRun runs kafki and fails the test unless it exits 0.
func mustRun(t testing.TB, bootstrap, stdin string, args ...string) string {
	t.Helper()
	r := kafki(t, bootstrap, stdin, args...)
	if r.code != 0 {
		t.Fatalf("kafki %s: exit %d, stderr %q", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

// wantFailure asserts a failed run: the exit code, a single stderr line
// containing each of wants, and nothing on stdout.
func wantFailure(t testing.TB, r result, code int, wants ...string) {
	t.Helper()
	t.Logf("stderr: %s", strings.TrimSpace(r.stderr))
	if r.code != code {
		t.Fatalf("exit code = %d, want %d (stderr %q)", r.code, code, r.stderr)
	}
	if strings.Count(r.stderr, "\n") != 1 || !strings.HasSuffix(r.stderr, "\n") {
		t.Errorf("stderr is not exactly one line: %q", r.stderr)
	}
	for _, w := range wants {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr %q does not mention %q", r.stderr, w)
		}
	}
}

// notifyingWriter is a concurrency-safe buffer that calls onWrite after each
// write, so a test can react to output (e.g. interrupt a consumer once it
// printed something) without sleeping.
type notifyingWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	onWrite func(string)
}

func (w *notifyingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	n, err := w.buf.Write(p)
	s := w.buf.String()
	w.mu.Unlock()
	if w.onWrite != nil {
		w.onWrite(s)
	}
	return n, err
}

func (w *notifyingWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
