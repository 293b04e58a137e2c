// Package testbin builds the brokerd binary that process-level tests
// (e2e, compat, chaos, clusterproc) run, with the Go toolchain running the
// tests, so that every harness builds it the same way.
package testbin

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// buildTimeout bounds one go build (a cold cache on two cores).
const buildTimeout = 5 * time.Minute

// Brokerd builds brokerd into dir (with the race detector when race is
// set) and returns its path.
func Brokerd(dir string, race bool) (string, error) {
	bin := filepath.Join(dir, "brokerd")
	args := []string{"build", "-o", bin}
	if race {
		args = append(args, "-race")
	}
	args = append(args, "github.com/kafki/kafki/brokerd/cmd/brokerd")
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, GoTool(), args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("build brokerd (go %s): %w\n%s", strings.Join(args, " "), err, out)
	}
	return bin, nil
}

// GoTool is the go command of the toolchain running the tests, so the
// broker is built with the same Go even when PATH differs.
func GoTool() string {
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); exists(p) {
			return p
		}
	}
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		if p := filepath.Join(strings.TrimSpace(string(out)), "bin", "go"); exists(p) {
			return p
		}
	}
	return "go"
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
