package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/loadtest/brokerproc"
)

// TestReadyLine runs a real two-broker dev cluster (moto_server as
// DynamoDB) and checks its first line is the JSON Ready line, that the
// brokers it names are the processes serving there, and that the human
// banner follows it. It fails, never skips, without moto_server: make
// test installs it.
func TestReadyLine(t *testing.T) {
	if _, err := exec.LookPath("moto_server"); err != nil {
		t.Fatalf("moto_server not on PATH (make test-deps installs it): %v", err)
	}
	brokerd := os.Getenv("KAFKI_BROKERD_BIN")
	if brokerd == "" {
		var err error
		if brokerd, err = brokerproc.BuildBrokerd(t.TempDir(), false); err != nil {
			t.Fatal(err)
		}
	}
	if abs, err := filepath.Abs(brokerd); err == nil {
		brokerd, _ = filepath.EvalSymlinks(abs)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	code := make(chan int, 1)
	go func() {
		c := run(runCtx, []string{"--brokers", "2", "--brokerd", brokerd, "--dir", dir}, pw, io.Discard)
		pw.Close()
		code <- c
	}()
	defer func() {
		stop()
		pr.Close() // what run prints from now on is not read
		if c := <-code; c != 0 {
			t.Errorf("exit code %d after SIGTERM-equivalent cancel, want 0", c)
		}
	}()

	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		t.Fatalf("no output: %v", sc.Err())
	}
	first := sc.Text()
	r, ok, err := brokerproc.ParseReady(first)
	if !ok || err != nil {
		t.Fatalf("first line %q is not a ready line: ok %v, err %v", first, ok, err)
	}
	if len(r.Brokers) != 2 || r.Brokers[0].ID != 1 || r.Brokers[1].ID != 2 || !strings.HasPrefix(r.DynamoDB, "http://") || r.Table != defaultTable {
		t.Fatalf("ready line %+v", r)
	}
	for _, b := range r.Brokers {
		if _, err := os.Stat(b.DataDir); err != nil {
			t.Errorf("broker %d data dir: %v", b.ID, err)
		}
		exe, err := os.Readlink("/proc/" + strconv.Itoa(b.PID) + "/exe")
		if err != nil || exe != brokerd {
			t.Errorf("broker %d pid %d runs %q (%v), want %s", b.ID, b.PID, exe, err, brokerd)
		}
	}
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "Kafki dev cluster: 2 brokers") {
		t.Errorf("the human banner does not follow the ready line: %q", sc.Text())
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	lctx, lcancel := context.WithTimeout(ctx, 30*time.Second)
	defer lcancel()
	if _, err := kadm.NewClient(cl).ListBrokers(lctx); err != nil {
		t.Fatalf("brokers of the ready line do not answer: %v", err)
	}
}
