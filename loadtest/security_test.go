package loadtest

import (
	"errors"
	"io"
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
		{"produce", "--security-protocol=SASL_SSL"},
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
