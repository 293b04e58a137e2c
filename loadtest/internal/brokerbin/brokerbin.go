// Package brokerbin finds or builds the brokerd binary that loadtest's
// tests run against: $KAFKI_BROKERD_BIN when set (make test points it at
// bin/brokerd), otherwise a fresh `go build` into a directory the caller
// owns. Tests drive the real binary through perf.SpawnBroker, the way an
// operator would, rather than an in-process fake.
package brokerbin

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Env names a prebuilt brokerd binary.
const Env = "KAFKI_BROKERD_BIN"

// buildTimeout bounds the go build (a cold cache on two cores).
const buildTimeout = 3 * time.Minute

// Path returns $KAFKI_BROKERD_BIN if set, or builds brokerd into dir.
func Path(dir string) (string, error) {
	if p := os.Getenv(Env); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s: %w", Env, err)
		}
		return p, nil
	}
	out := filepath.Join(dir, "brokerd")
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "github.com/kafki/kafki/brokerd/cmd/brokerd")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build brokerd: %w: %s", err, msg)
	}
	return out, nil
}
