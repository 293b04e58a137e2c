package brokerproc

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeScript writes an executable shell script standing in for brokerd.
func writeScript(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fake-brokerd")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSpawnMissingBinary(t *testing.T) {
	_, err := Spawn(context.Background(), filepath.Join(t.TempDir(), "nope"), time.Second)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want ErrNotExist", err)
	}
}

func TestSpawnReportsEarlyExitWithOutput(t *testing.T) {
	// The script checks it got the documented flags, then dies like a
	// broker with a bad config would.
	path := writeScript(t, `case "$*" in
*--listen=127.0.0.1:*--data.dir=*--metrics.listen=*--log.level=warn*) echo "brokerd: data.dir: permission denied" >&2; exit 3;;
*) echo "unexpected args: $*" >&2; exit 4;;
esac`)
	_, err := Spawn(context.Background(), path, 10*time.Second)
	if !errors.Is(err, ErrBrokerExited) {
		t.Fatalf("err = %v, want ErrBrokerExited", err)
	}
	if !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "brokerd: data.dir: permission denied") {
		t.Fatalf("err = %q, want the exit status and the broker's last line", err)
	}
}

func TestSpawnTimesOutAndCleansUp(t *testing.T) {
	// Prints its data dir, then never listens.
	path := writeScript(t, `for a in "$@"; do case "$a" in --data.dir=*) echo "${a#--data.dir=}";; esac; done; exec sleep 60`)
	start := time.Now()
	_, err := Spawn(context.Background(), path, 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "did not accept connections") {
		t.Fatalf("err = %v, want a start timeout", err)
	}
	if took := time.Since(start); took > 8*time.Second {
		t.Fatalf("gave up after %s", took)
	}
	// The error carries the script's last line: its data dir, which must be gone.
	dir := err.Error()[strings.LastIndex(err.Error(), ": ")+2:]
	if !strings.Contains(dir, "kafki-broker-") {
		t.Fatalf("no data dir in %q", err)
	}
	if _, statErr := os.Stat(dir); !errors.Is(statErr, os.ErrNotExist) {
		t.Fatalf("data dir %s left behind: %v", dir, statErr)
	}
}
