package loadtest

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecurityFlags(t *testing.T) {
	cfg, err := ParseArgs([]string{"produce", "--security-protocol=SSL", "--tls-ca=/ca.pem", "--tls-cert=/c.pem", "--tls-key=/k.pem"}, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.Security; s.Protocol != ProtocolSSL || s.TLSCA != "/ca.pem" || s.TLSCert != "/c.pem" || s.TLSKey != "/k.pem" {
		t.Fatalf("security %+v", s)
	}
	if got := settingsOf(cfg).SecurityProtocol; got != "SSL" {
		t.Fatalf("report's security protocol %q", got)
	}
	for _, args := range [][]string{
		{"produce", "--security-protocol=TLS"},
		{"produce", "--tls-ca=/ca.pem"},
		{"produce", "--security-protocol=SSL", "--tls-key=/k.pem"},
		{"produce", "--security-protocol=SASL_SSL"}, // no user
	} {
		if _, err := ParseArgs(args, nil, io.Discard); !errors.Is(err, ErrUsage) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
	// Files are read when the run starts; a missing one is an error then.
	cfg.Security.TLSCA = "/nonexistent/ca.pem"
	if _, err := cfg.withSecurity(); err == nil {
		t.Fatal("a missing --tls-ca file was accepted")
	}
}

func TestSASLFlags(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args     []string
		mech     string // the mechanism the report names
		mechName string // franz-go's name of the mechanism built
	}{
		{[]string{"--security-protocol=SASL_SSL", "--sasl-username=alice", "--sasl-password=pw"}, "SCRAM-SHA-512", "SCRAM-SHA-512"},
		{[]string{"--security-protocol=SASL_PLAINTEXT", "--sasl-mechanism=plain", "--sasl-username=alice", "--sasl-password=pw"}, "PLAIN", "PLAIN"},
		{[]string{"--security-protocol=SASL_SSL", "--sasl-mechanism=SCRAM-SHA-256", "--sasl-username=alice", "--sasl-password-file=" + pwFile}, "SCRAM-SHA-256", "SCRAM-SHA-256"},
	} {
		cfg, err := ParseArgs(append([]string{"produce"}, tc.args...), nil, io.Discard)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if got := settingsOf(cfg).SASLMechanism; got != tc.mech {
			t.Errorf("%v: report's mechanism %q, want %q", tc.args, got, tc.mech)
		}
		m, err := cfg.Security.saslMechanism()
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if m.Name() != tc.mechName {
			t.Errorf("%v: mechanism %s, want %s", tc.args, m.Name(), tc.mechName)
		}
		if _, err := cfg.withSecurity(); err != nil {
			t.Errorf("%v: %v", tc.args, err)
		}
	}

	for _, tc := range []struct {
		args []string
		want string // in the one-line message
	}{
		{[]string{"--sasl-username=alice", "--sasl-password=pw"}, "need --security-protocol SASL_PLAINTEXT or SASL_SSL (not PLAINTEXT)"},
		{[]string{"--security-protocol=SSL", "--sasl-mechanism=PLAIN"}, "(not SSL)"},
		{[]string{"--security-protocol=SASL_SSL", "--sasl-password=pw"}, "needs --sasl-username"},
		{[]string{"--security-protocol=SASL_SSL", "--sasl-username=alice"}, "needs --sasl-password or --sasl-password-file"},
		{[]string{"--security-protocol=SASL_SSL", "--sasl-username=alice", "--sasl-password=pw", "--sasl-password-file=" + pwFile}, "mutually exclusive"},
		{[]string{"--security-protocol=SASL_SSL", "--sasl-mechanism=GSSAPI", "--sasl-username=alice", "--sasl-password=pw"}, `--sasl-mechanism "GSSAPI"`},
		{[]string{"--security-protocol=SASL_PLAINTEXT", "--tls-ca=/ca.pem", "--sasl-username=alice", "--sasl-password=pw"}, "need --security-protocol SSL or SASL_SSL"},
	} {
		_, err := ParseArgs(append([]string{"produce"}, tc.args...), nil, io.Discard)
		if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: %v, want a one-line usage error with %q", tc.args, err, tc.want)
		}
	}

	// The password file is read when the run starts.
	cfg, err := ParseArgs([]string{"produce", "--security-protocol=SASL_SSL", "--sasl-username=alice", "--sasl-password-file=" + filepath.Join(dir, "missing")}, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.withSecurity(); err == nil || !strings.Contains(err.Error(), "--sasl-password-file") {
		t.Fatalf("a missing --sasl-password-file: %v", err)
	}
	if err := os.WriteFile(pwFile, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Security.SASLPasswordFile = pwFile
	if _, err := cfg.withSecurity(); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("an empty --sasl-password-file: %v", err)
	}
}
