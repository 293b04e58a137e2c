package clusterproc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/kafki/kafki/brokerd/internal/testcerts"
	"github.com/kafki/kafki/internal/poll"
)

// Listener names of a secured cluster (Options.Security).
const (
	ClientListener      = "CLIENT"
	InterBrokerListener = "REPLICATION"
)

// Security runs a cluster as production does (issue 12): every broker has
// two SASL_SSL listeners, ClientListener on Proc.Addr (what Bootstrap
// returns) and InterBrokerListener on Proc.InterBrokerAddr
// (inter.broker.listener.name), over which the brokers replicate as the
// inter-broker user of sasl.inter.broker.secret.file. Start then creates
// the SCRAM-SHA-512 user ClientUser through a broker, logged in as the
// inter-broker user, and waits until every broker lets it log in;
// Cluster.ClientOpts connects as it.
type Security struct {
	// CAFile is the brokers' truststore (PEM) and the clients' CA; CA its
	// pool. Keystores[id] is broker id's PEM keystore (certificate and
	// key). NewSecurity makes them with the test CA (testcerts).
	CAFile    string
	CA        *x509.CertPool
	Keystores map[int32]string
	// InterBrokerSecretFile is the JSON {"username", "password"} of the
	// inter-broker user, InterBrokerUser and InterBrokerPassword.
	InterBrokerSecretFile                string
	InterBrokerUser, InterBrokerPassword string
	// ClientUser and ClientPassword are the test's clients' SCRAM user.
	ClientUser, ClientPassword string
}

// NewSecurity makes the files of a secured cluster of brokers node ids
// 1..brokers in dir: a CA, a certificate per broker (for 127.0.0.1 and
// localhost), the inter-broker secret; and random passwords.
func NewSecurity(t testing.TB, dir string, brokers int) *Security {
	t.Helper()
	ca := testcerts.NewCA(t, dir, "kafki-cluster")
	s := &Security{
		CAFile: ca.File, CA: ca.Pool(), Keystores: map[int32]string{},
		InterBrokerSecretFile: filepath.Join(dir, "inter-broker-secret.json"),
		InterBrokerUser:       "kafki-broker", InterBrokerPassword: "broker-" + randomHex(12),
		ClientUser: "chaos-client", ClientPassword: "client-" + randomHex(12),
	}
	for id := int32(1); id <= int32(brokers); id++ {
		name := "broker-" + strconv.Itoa(int(id))
		s.Keystores[id] = ca.Issue(t, dir, name, testcerts.Leaf{Subject: pkix.Name{CommonName: name}}).Keystore
	}
	sec, err := json.Marshal(map[string]string{"username": s.InterBrokerUser, "password": s.InterBrokerPassword})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.InterBrokerSecretFile, sec, 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *Security) validate(brokers int) error {
	if s.CAFile == "" || s.CA == nil || s.InterBrokerSecretFile == "" || s.ClientUser == "" || s.ClientPassword == "" {
		return errors.New("clusterproc: Security needs CAFile, CA, InterBrokerSecretFile, ClientUser and ClientPassword (see NewSecurity)")
	}
	for id := int32(1); id <= int32(brokers); id++ {
		if s.Keystores[id] == "" {
			return fmt.Errorf("clusterproc: Security has no keystore for broker %d", id)
		}
	}
	return nil
}

// env is broker p's listener and security settings.
func (s *Security) env(p *Proc) []string {
	return []string{
		"KAFKI_LISTENERS=" + ClientListener + "://" + p.addr + "," + InterBrokerListener + "://" + p.interAddr,
		"KAFKI_LISTENER_SECURITY_PROTOCOL_MAP=" + ClientListener + ":SASL_SSL," + InterBrokerListener + ":SASL_SSL",
		"KAFKI_INTER_BROKER_LISTENER_NAME=" + InterBrokerListener,
		"KAFKI_SSL_KEYSTORE_LOCATION=" + s.Keystores[p.id],
		"KAFKI_SSL_TRUSTSTORE_LOCATION=" + s.CAFile,
		"KAFKI_SASL_INTER_BROKER_SECRET_FILE=" + s.InterBrokerSecretFile,
	}
}

// opts are the TLS and SCRAM-SHA-512 options of a client logging in as
// user.
func (s *Security) opts(user, pass string) []kgo.Opt {
	return []kgo.Opt{
		kgo.DialTLSConfig(&tls.Config{RootCAs: s.CA, MinVersion: tls.VersionTLS12}),
		kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()),
	}
}

// ClientOpts are the options a client of the cluster needs besides its
// seeds: none for a PLAINTEXT cluster; TLS and SCRAM-SHA-512 as
// Security.ClientUser for a secured one.
func (c *Cluster) ClientOpts() []kgo.Opt {
	if c.opt.Security == nil {
		return nil
	}
	return c.opt.Security.opts(c.opt.Security.ClientUser, c.opt.Security.ClientPassword)
}

// userReadyTimeout bounds creating the client user and its reaching every
// broker (at the brokers' next metadata poll).
const userReadyTimeout = 30 * time.Second

// createClientUser creates Security.ClientUser through the brokers, as the
// inter-broker user, and waits until it can log in on every broker.
func (c *Cluster) createClientUser(ctx context.Context) error {
	s := c.opt.Security
	admin, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.Bootstrap()...)}, s.opts(s.InterBrokerUser, s.InterBrokerPassword)...)...)
	if err != nil {
		return fmt.Errorf("clusterproc: admin client: %w", err)
	}
	defer admin.Close()
	adm := kadm.NewClient(admin)
	err = poll.WithinEvery(ctx, userReadyTimeout, 100*time.Millisecond, "the client user created", func() error {
		res, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
			{User: s.ClientUser, Mechanism: kadm.ScramSha512, Iterations: 4096, Password: s.ClientPassword},
		})
		if err != nil {
			return err
		}
		return res.Error()
	})
	if err != nil {
		return fmt.Errorf("clusterproc: create SCRAM user %s: %w", s.ClientUser, err)
	}
	for _, p := range c.procs {
		err := poll.WithinEvery(ctx, userReadyTimeout, 100*time.Millisecond, "the client user known to broker "+strconv.Itoa(int(p.id)), func() error {
			cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(p.addr), kgo.RequestRetries(0)}, c.ClientOpts()...)...)
			if err != nil {
				return err
			}
			defer cl.Close()
			rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			// The login is the connection's first exchange.
			_, err = cl.SeedBrokers()[0].Request(rctx, kmsg.NewPtrApiVersionsRequest())
			return err
		})
		if err != nil {
			return fmt.Errorf("clusterproc: %w", err)
		}
	}
	return nil
}
