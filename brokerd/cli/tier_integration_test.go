package cli_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kafki/kafki/internal/poll"

	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/internal/testbroker"
)

// kafki tier describe/verify against the tier of a real broker, then
// against the same tier with an object removed.
func TestTierDescribeAndVerify(t *testing.T) {
	tierDir := t.TempDir()
	b := testbroker.StartBroker(t, testbroker.WithConfig(func(c *config.Config) {
		c.TierDir = tierDir
		c.RetentionCheckInterval = 20 * time.Millisecond
		c.TierSweepInterval = time.Hour // no sweeping: the test damages the tier itself
	}))
	addr := b.Addr()
	mustRun(t, addr, "", "topics", "create", "--topic", "cold", "--partitions", "1",
		"--config", "segment.bytes=2048", "--config", "remote.storage.enable=true")
	// Each run is one batch of about 2 KB, so every run rolls a segment.
	lines := strings.Repeat(strings.Repeat("x", 200)+"\n", 10)
	for i := 0; i < 25; i++ {
		mustRun(t, addr, lines, "produce", "--topic", "cold", "--linger-ms", "0")
	}
	p := b.Topics().Partition("cold", 0)
	poll.Must(t, 20*time.Second, "several segments uploaded", func() error {
		if end := p.Log().RemoteEnd(); end < 20 {
			return fmt.Errorf("remote end %d", end)
		}
		return nil
	})

	out := mustRun(t, "", "", "tier", "describe", "--tier.dir", tierDir, "--topic", "cold")
	if !strings.Contains(out, "Topic: cold") || !strings.Contains(out, "RemoteOffsets: 0..") || !strings.Contains(out, "COPY_FINISHED") {
		t.Fatalf("describe output:\n%s", out)
	}
	out = mustRun(t, "", "", "tier", "verify", "--tier.dir", tierDir, "--checksums")
	if !strings.HasPrefix(out, "OK: ") {
		t.Fatalf("verify of a healthy tier:\n%s", out)
	}

	// Remove one uploaded log object: verify must name it and fail.
	var victim string
	filepath.WalkDir(filepath.Join(tierDir, "objects"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".log") && victim == "" {
			victim = path
		}
		return nil
	})
	if victim == "" {
		t.Fatal("no uploaded .log object found")
	}
	if err := os.Remove(victim); err != nil {
		t.Fatal(err)
	}
	r := kafki(t, "", "", "tier", "verify", "--tier.dir", tierDir)
	if r.code != 1 || !strings.Contains(r.stdout, "missing") || !strings.Contains(r.stderr, "problems") {
		t.Fatalf("verify of a damaged tier: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	wantFailure(t, kafki(t, "", "", "tier", "verify"), 2, "--tier.dir")
}
