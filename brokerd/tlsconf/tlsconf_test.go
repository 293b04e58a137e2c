package tlsconf

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/kafki/kafki/brokerd/internal/testcerts"
)

// A rotated file is picked up at the next use; a broken rotation keeps
// the previous material and is reported once.
func TestStoreReloadsChangedFiles(t *testing.T) {
	dir := t.TempDir()
	ca := testcerts.NewCA(t, dir, "test")
	first := ca.Issue(t, dir, "broker", testcerts.Leaf{Subject: pkix.Name{CommonName: "broker"}, Serial: 1})
	var reloadErrs []error
	s, err := Open(Files{Cert: first.CertFile, Key: first.KeyFile, CA: ca.File}, func(err error) { reloadErrs = append(reloadErrs, err) })
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Certificate().Leaf.SerialNumber.Int64(); got != 1 {
		t.Fatalf("serial %d, want 1", got)
	}
	ca.Issue(t, dir, "broker", testcerts.Leaf{Subject: pkix.Name{CommonName: "broker"}, Serial: 2})
	if got := s.Certificate().Leaf.SerialNumber.Int64(); got != 2 {
		t.Fatalf("after rotation: serial %d, want 2", got)
	}
	// Half a rotation: a new certificate with the old key.
	other := ca.Issue(t, dir, "other", testcerts.Leaf{Serial: 3})
	b, err := os.ReadFile(other.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(first.CertFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if got := s.Certificate().Leaf.SerialNumber.Int64(); got != 2 {
			t.Fatalf("after a bad rotation: serial %d, want 2 kept", got)
		}
	}
	if len(reloadErrs) != 1 {
		t.Fatalf("reload errors %v, want one", reloadErrs)
	}
}

func TestOpenRefusesBadMaterial(t *testing.T) {
	dir := t.TempDir()
	ca := testcerts.NewCA(t, dir, "test")
	is := ca.Issue(t, dir, "broker", testcerts.Leaf{})
	enc := dir + "/enc.key"
	os.WriteFile(enc, []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"), 0o600)
	for _, tc := range []struct {
		f    Files
		want string
	}{
		{Files{Cert: is.CertFile}, "no PEM PRIVATE KEY"},
		{Files{Cert: is.CertFile, Key: enc}, "encrypted"},
		{Files{Cert: is.CertFile, Key: is.KeyFile, CA: is.KeyFile}, "no PEM CERTIFICATE"},
		{Files{Cert: dir + "/missing.pem"}, "no such file"},
	} {
		_, err := Open(tc.f, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.f, err, tc.want)
		}
	}
	// A PEM keystore: chain and key in one file.
	if _, err := Open(Files{Cert: is.Keystore, CA: ca.File}, nil); err != nil {
		t.Fatal(err)
	}
}

// ServerConfig and ClientConfig complete an mTLS handshake with each
// other, and the client refuses a server its CA did not sign.
func TestServerAndClientConfigs(t *testing.T) {
	dir := t.TempDir()
	ca := testcerts.NewCA(t, dir, "test")
	srvCert := ca.Issue(t, dir, "server", testcerts.Leaf{Subject: pkix.Name{CommonName: "server"}})
	cliCert := ca.Issue(t, dir, "client", testcerts.Leaf{Subject: pkix.Name{CommonName: "client"}})
	srv, err := Open(Files{Cert: srvCert.Keystore, CA: ca.File}, nil)
	if err != nil {
		t.Fatal(err)
	}
	scfg, err := srv.ServerConfig(ClientAuthRequired)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := Open(Files{Cert: cliCert.CertFile, Key: cliCert.KeyFile, CA: ca.File}, nil)
	if err != nil {
		t.Fatal(err)
	}
	handshake := func(ccfg *tls.Config) (string, error) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		sc := tls.Server(a, scfg)
		done := make(chan string, 1)
		go func() {
			if sc.Handshake() != nil {
				done <- ""
				return
			}
			dn, _ := SubjectDN(sc.ConnectionState().PeerCertificates[0])
			done <- dn
		}()
		ccfg = ccfg.Clone()
		ccfg.ServerName = "localhost"
		err := tls.Client(b, ccfg).Handshake()
		if err != nil {
			a.Close()
		}
		return <-done, err
	}
	dn, err := handshake(cli.ClientConfig())
	if err != nil || dn != "CN=client" {
		t.Fatalf("mTLS handshake: %q %v", dn, err)
	}
	otherCA := testcerts.NewCA(t, dir, "other")
	stranger, err := Open(Files{CA: otherCA.File}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := handshake(stranger.ClientConfig()); err == nil {
		t.Fatal("a client trusting another CA accepted the server")
	}
}
