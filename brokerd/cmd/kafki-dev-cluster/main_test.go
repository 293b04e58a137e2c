package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func wantOneLineError(t *testing.T, code, wantCode int, stderr string, wants ...string) {
	t.Helper()
	if code != wantCode {
		t.Errorf("exit code %d, want %d (stderr %q)", code, wantCode, stderr)
	}
	if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, name+": ") {
		t.Errorf("stderr is not one %q line: %q", name+":", stderr)
	}
	for _, w := range wants {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr %q does not mention %q", stderr, w)
		}
	}
}

func TestBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--brokers", "0"}, "--brokers must be between 1 and 64, got 0"},
		{[]string{"--brokers", "x"}, `invalid value "x" for flag --brokers`},
		{[]string{"--nope"}, "flag provided but not defined: --nope"},
		{[]string{"--endpoint", "localhost:4566"}, "must be an http:// or https:// URL"},
		{[]string{"--dir", ""}, "--dir must not be empty"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		code, stdout, stderr := runCmd(t, tc.args...)
		wantOneLineError(t, code, 2, stderr, tc.want, "--help")
		if stdout != "" {
			t.Errorf("%v printed %q on stdout", tc.args, stdout)
		}
	}
}

func TestHelp(t *testing.T) {
	code, stdout, _ := runCmd(t, "--help")
	if code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	for _, w := range []string{"-brokers", "-brokerd", "-dir", "-endpoint"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("help lacks %s:\n%s", w, stdout)
		}
	}
}

func TestMissingMotoServer(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no moto_server anywhere
	code, _, stderr := runCmd(t, "--dir", t.TempDir())
	wantOneLineError(t, code, 1, stderr, "moto_server not found", "pip install 'moto[server]'")
}

func TestMissingBrokerd(t *testing.T) {
	// With --endpoint no moto is needed, so the missing binary is what
	// fails, before any process starts.
	missing := filepath.Join(t.TempDir(), "brokerd")
	code, _, stderr := runCmd(t, "--endpoint", "http://127.0.0.1:9", "--brokerd", missing, "--dir", t.TempDir())
	wantOneLineError(t, code, 1, stderr, missing, "make build")
}

func TestRemoveBrokerDirsKeepsOtherFiles(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"broker-1", "broker-2", "notes"} {
		if err := os.MkdirAll(filepath.Join(dir, d, "x"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := removeBrokerDirs(dir); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "notes" {
		t.Errorf("left %v, want only notes", entries)
	}
}
