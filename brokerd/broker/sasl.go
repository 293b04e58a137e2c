package broker

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/kafki/kafki/brokerd/auth"
	"github.com/kafki/kafki/brokerd/sasl"
	"github.com/kafki/kafki/brokerd/server"
)

// SASL (issue 12): the authenticator of SASL listeners and the SCRAM
// users cache, built from the configuration and the metadata store.

// saslRetry is how soon a failed refresh of the users cache is retried.
const saslRetry = time.Second

// openSASL builds the server's SASL options and the users cache (nil when
// the metadata store keeps no users). The cache is filled before the
// broker serves, so a known user can log in from the first connection.
func (b *Broker) openSASL(ctx context.Context) (*server.SASLOptions, *sasl.Cache, error) {
	cfg := &b.cfg
	var users *sasl.Cache
	if us, ok := b.store.(sasl.UserStore); ok {
		users = sasl.NewCache(us)
		if err := users.Refresh(ctx); err != nil {
			return nil, nil, err
		}
	}
	creds := sasl.Chain{}
	if users != nil {
		creds = append(creds, users)
	}
	if cfg.SASLInterBrokerSecretFile != "" {
		sec, err := sasl.ReadSecret(cfg.SASLInterBrokerSecretFile)
		if err != nil {
			return nil, nil, fmt.Errorf("sasl.inter.broker.secret.file: %w", err)
		}
		st, err := sasl.NewStaticScram(sec)
		if err != nil {
			return nil, nil, err
		}
		// The broker's own user first: a SCRAM user of the same name in
		// the store cannot lock the brokers out of each other.
		creds = append(sasl.Chain{st}, creds...)
		b.interBroker = &sec
	}
	var plain map[string]string
	if cfg.SASLPlainUsersFile != "" {
		var err error
		if plain, err = sasl.ReadPlainFile(cfg.SASLPlainUsersFile); err != nil {
			return nil, nil, fmt.Errorf("sasl.plain.users.file: %w", err)
		}
		b.log.Warn("PLAIN users from a file of plaintext passwords (sasl.plain.users.file): for development only", "users", len(plain))
	}
	if b.interBroker != nil {
		// PLAIN checks the inter-broker password through its SCRAM
		// credential, like any store user's.
		if _, dup := plain[b.interBroker.Username]; dup {
			return nil, nil, fmt.Errorf("sasl.plain.users.file: user %q is the inter-broker user", b.interBroker.Username)
		}
	}
	a, err := sasl.New(sasl.Options{Mechanisms: cfg.SASLEnabledMechanisms, Credentials: creds, PlainUsers: plain})
	if err != nil {
		return nil, nil, fmt.Errorf("sasl.enabled.mechanisms: %w", err)
	}
	return &server.SASLOptions{
		Authenticator: a, MaxReauth: cfg.ConnectionsMaxReauth, MaxReceiveSize: cfg.SASLMaxReceiveSize,
		FailureDelay: cfg.FailedAuthDelay,
	}, users, nil
}

// runUsers keeps the users cache current in a cluster: it re-reads the
// users whenever the node applied a new metadata snapshot, which every
// user change causes (it bumps the metadata version). On a single node
// the only writer is this broker, whose handler refreshes the cache.
func (b *Broker) runUsers(ctx context.Context, users *sasl.Cache) {
	if users == nil || b.node == nil {
		return
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		users.Run(ctx, b.node.Changed, saslRetry, b.log.With("component", "sasl"))
	}()
}

// InterBrokerPrincipal is the principal brokers authenticate to each
// other as (sasl.inter.broker.secret.file), which the authorizer treats
// as a super user; ok is false without one.
func (b *Broker) InterBrokerPrincipal() (p auth.Principal, ok bool) {
	if b.interBroker == nil {
		return auth.Principal{}, false
	}
	return auth.Principal{Type: auth.PrincipalUser, Name: b.interBroker.Username}, true
}

// ServeListener serves one more listener of the broker's protocol server
// until Stop (tests and tools that add a SASL listener of their own; the
// configured listeners are served by Start).
func (b *Broker) ServeListener(ln net.Listener, l server.Listener) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		if err := b.server.ServeListener(ln, l); err != nil {
			b.log.Warn("listener stopped", "listener", l.Name, "err", err)
		}
	}()
}
