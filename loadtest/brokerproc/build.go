package brokerproc

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

// BrokerdEnv names a prebuilt brokerd binary for FindBrokerd (make unit
// points it at bin/brokerd).
const BrokerdEnv = "KAFKI_BROKERD_BIN"

// FindBrokerd returns $KAFKI_BROKERD_BIN when set, or builds brokerd into
// dir (BuildBrokerd, no race detector).
func FindBrokerd(dir string) (string, error) {
	if p := os.Getenv(BrokerdEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s: %w", BrokerdEnv, err)
		}
		return p, nil
	}
	return BuildBrokerd(dir, false)
}

// BuildBrokerd builds brokerd into dir (with the race detector when race
// is set) with the Go toolchain running the caller (GoTool), so that every
// process-level test (brokerd/e2e, brokerd/compat, brokerd/chaos,
// clusterproc, loadtest) builds it the same way, and returns its path.
func BuildBrokerd(dir string, race bool) (string, error) {
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
