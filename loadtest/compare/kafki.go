package compare

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kafki/kafki/loadtest/brokerproc"
)

// StartKafki starts bin/brokerd (path) on a free loopback port with a
// fresh data directory, through brokerproc.Spawn, with the fsync policy's
// flags. SpawnBroker takes no extra flags, so a two-line wrapper script in
// dir execs brokerd with them appended (exec keeps the process id, so RSS
// is sampled on brokerd itself; later flags override SpawnBroker's).
func StartKafki(ctx context.Context, path, dir string, fs Fsync, timeout time.Duration) (*brokerproc.Broker, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("kafki binary: %w", err)
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("kafki binary: %w", err)
	}
	wrapper := filepath.Join(dir, "brokerd-"+string(fs))
	script := "#!/bin/sh\nexec " + shellQuote(abs) + ` "$@" ` + strings.Join(fs.KafkiFlags(), " ") + "\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		return nil, fmt.Errorf("kafki wrapper: %w", err)
	}
	b, err := brokerproc.Spawn(ctx, wrapper, timeout)
	if err != nil {
		return nil, fmt.Errorf("start kafki: %w", err)
	}
	return b, nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
