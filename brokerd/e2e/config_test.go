package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// badConfigBound is how long a broker may take to reject its configuration:
// it must fail before opening any file or socket.
const badConfigBound = 5 * time.Second

// TestBadConfig runs brokerd with one bad setting at a time and checks that
// it exits non-zero at once with a single stderr line naming the setting,
// without writing anything to the data directory.
func TestBadConfig(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		env     []string
		setting []string // the error line must contain one of these
	}{
		{"zero partitions", []string{"--num.partitions=0"}, nil, []string{"num.partitions"}},
		{"partitions not a number", []string{"--num.partitions=many"}, nil, []string{"num.partitions"}},
		{"listen not host:port", []string{"--listen=nonsense"}, nil, []string{"listen"}},
		{"loud log level", []string{"--log.level=loud"}, nil, []string{"log.level"}},
		{"unknown flag", []string{"--no.such.setting=1"}, nil, []string{"no.such.setting"}},
		{"tiny segments", []string{"--log.segment.bytes=1"}, nil, []string{"log.segment.bytes"}},
		{"bad env log level", nil, []string{"KAFKI_LOG_LEVEL=loud"}, []string{"log.level", "KAFKI_LOG_LEVEL"}},
		{"bad env partitions", nil, []string{"KAFKI_NUM_PARTITIONS=zero"}, []string{"num.partitions", "KAFKI_NUM_PARTITIONS"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dataDir := filepath.Join(t.TempDir(), "data")
			args := append([]string{
				"--listen=" + freeAddr(t),
				"--data.dir=" + dataDir,
				"--metrics.listen=",
			}, tc.args...)
			res := runBrokerd(t, args, tc.env)
			if res.code == 0 {
				t.Fatalf("brokerd %s exited 0, want non-zero\nstderr:\n%s", strings.Join(args, " "), res.stderr)
			}
			lines := nonEmptyLines(res.stderr)
			if len(lines) != 1 {
				t.Errorf("stderr has %d lines, want exactly one naming %s; first lines:\n%s", len(lines), tc.setting[0], head(res.stderr, 4))
			}
			if !containsAny(res.stderr, tc.setting) {
				t.Errorf("stderr names none of %q:\n%s", tc.setting, head(res.stderr, 4))
			}
			if entries, err := os.ReadDir(dataDir); err == nil && len(entries) > 0 {
				t.Errorf("brokerd wrote %d entries to %s despite the bad configuration (first: %s)", len(entries), dataDir, entries[0].Name())
			} else if err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("reading data dir: %v", err)
			}
			t.Logf("exit %d in %v: %s", res.code, res.took.Round(time.Millisecond), strings.TrimSpace(head(res.stderr, 1)))
		})
	}
}

// TestHelp checks that --help exits 0 and documents every setting with its
// environment variable on the same line.
func TestHelp(t *testing.T) {
	res := runBrokerd(t, []string{"--help"}, nil)
	if res.code != 0 {
		t.Fatalf("brokerd --help exited %d, want 0\n%s%s", res.code, res.stdout, res.stderr)
	}
	help := res.stdout + res.stderr
	byFlag := map[string]string{} // flag name → its line
	flagRe := regexp.MustCompile(`^\s*--?([a-z][a-z0-9._-]*)`)
	for _, line := range strings.Split(help, "\n") {
		if m := flagRe.FindStringSubmatch(line); m != nil {
			byFlag[m[1]] = line
		}
	}
	for _, name := range []string{
		"listen", "data.dir", "metrics.listen", "log.level", "log.flush.on.ack",
		"auto.create.topics.enable", "num.partitions", "log.segment.bytes",
	} {
		if _, ok := byFlag[name]; !ok {
			t.Errorf("--help does not list --%s", name)
		}
	}
	if len(byFlag) == 0 {
		t.Fatalf("--help lists no flags:\n%s", help)
	}
	for name, line := range byFlag {
		if env := envName(name); !strings.Contains(line, env) {
			t.Errorf("--help line for --%s does not name %s: %q", name, env, line)
		}
	}
}

// envName is the documented mapping from a flag to its environment
// variable, written out independently of the broker's own code.
func envName(flag string) string {
	return "KAFKI_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(flag))
}

type runResult struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

// runBrokerd runs the binary to completion (bounded by badConfigBound) with
// a clean environment plus env.
func runBrokerd(t *testing.T, args, env []string) runResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), badConfigBound)
	defer cancel()
	cmd := exec.CommandContext(ctx, brokerdBin, args...)
	cmd.Env = append(cleanEnv(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	res := runResult{stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
	if ctx.Err() != nil {
		t.Fatalf("brokerd %s still running after %v (killed)\nstderr:\n%s", strings.Join(args, " "), badConfigBound, res.stderr)
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		res.code = exitErr.ExitCode()
	default:
		t.Fatalf("run brokerd: %v", err)
	}
	return res
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func nonEmptyLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}
