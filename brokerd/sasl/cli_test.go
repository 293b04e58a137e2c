package sasl_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kafki/kafki/brokerd/cli"
)

// kafki users create|list|delete, logged in over SASL with a secret file
// in the Secrets Manager layout, manage a user franz-go then logs in as.
func TestKafkiUsers(t *testing.T) {
	sb := startSASL(t)
	sb.createUser(t, "admin", "admin-Secret-9")
	secret := filepath.Join(t.TempDir(), "admin.json")
	if err := os.WriteFile(secret, []byte(`{"username": "admin", "password": "admin-Secret-9"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(stdin string, args ...string) (string, string, int) {
		t.Helper()
		var out, errb bytes.Buffer
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		all := append(args, "--bootstrap-server", sb.SASL, "--sasl-mechanism", "SCRAM-SHA-512", "--sasl-secret-file", secret)
		code := cli.Run(ctx, all, cli.Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb})
		return out.String(), errb.String(), code
	}
	pw := sb.secret("erin-Secret-9")
	if out, errs, code := run(pw+"\n", "users", "create", "--user", "erin"); code != 0 || out != "created user erin\n" {
		t.Fatalf("create: %d %q %q", code, out, errs)
	}
	out, _, code := run("", "users", "list")
	if code != 0 || !strings.Contains(out, "erin   SCRAM-SHA-256  8192\n") || !strings.Contains(out, "erin   SCRAM-SHA-512  8192\n") {
		t.Fatalf("list: %d %q", code, out)
	}
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		if err := ping(t, sb.saslClient(t, mechanism(mech, "erin", pw))); err != nil {
			t.Fatalf("erin with %s: %v", mech, err)
		}
	}
	if _, errs, code := run("", "users", "create", "--user", "erin"); code != 2 || !strings.Contains(errs, "empty password") {
		t.Fatalf("create without a password: %d %q", code, errs)
	}
	if out, errs, code := run("", "users", "delete", "--user", "erin"); code != 0 || out != "deleted user erin\n" {
		t.Fatalf("delete: %d %q %q", code, out, errs)
	}
	if _, errs, code := run("", "users", "delete", "--user", "erin"); code != 1 || !strings.Contains(errs, "erin") {
		t.Fatalf("delete again: %d %q", code, errs)
	}
	if err := ping(t, sb.saslClient(t, mechanism("SCRAM-SHA-512", "erin", pw))); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("deleted erin: %v", err)
	}
	// A wrong secret fails the login in one line.
	if err := os.WriteFile(secret, []byte(`{"username": "admin", "password": "nope-9"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	sb.secret("nope-9")
	if _, errs, code := run("", "users", "list"); code != 1 || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "SASL") {
		t.Fatalf("wrong admin password: %d %q", code, errs)
	}
}
