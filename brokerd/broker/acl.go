package broker

import (
	"context"
	"fmt"
	"time"

	"github.com/kafki/kafki/brokerd/acl"
	"github.com/kafki/kafki/brokerd/auth"
	"github.com/kafki/kafki/brokerd/sasl"
)

// aclRefreshInterval bounds how long a broker of a cluster can miss an
// ACL change when it missed the metadata change that carried it (a read
// that failed): the authorizer also re-reads the ACL counter this often.
const aclRefreshInterval = 10 * time.Second

// openAuthorizer builds the ACL authorizer authorizer.class.name asks
// for, on the metadata store (embedded or the cluster's table), and
// reads the ACLs once: a broker that cannot read them does not start. It
// returns nil when ACLs are off (the allow-all default).
func (b *Broker) openAuthorizer(ctx context.Context) (*acl.Authorizer, error) {
	if !b.cfg.ACLEnabled() {
		return nil, nil
	}
	st, ok := b.store.(acl.Store)
	if !ok {
		return nil, fmt.Errorf("authorizer.class.name=%s: the metadata store %T keeps no ACLs", b.cfg.AuthorizerClassName, b.store)
	}
	supers, err := acl.ParseSuperUsers(b.cfg.SuperUsers)
	if err != nil {
		return nil, err
	}
	if f := b.cfg.SASLInterBrokerSecretFile; f != "" {
		// The brokers' own SASL user replicates, fences and asks peers
		// about shutdowns (CLUSTER_ACTION): it is a super user without
		// being listed, so an ACL mistake cannot stop replication.
		s, err := sasl.ReadSecret(f)
		if err != nil {
			return nil, fmt.Errorf("sasl.inter.broker.secret.file: %w", err)
		}
		supers = append(supers, auth.Principal{Type: auth.PrincipalUser, Name: s.Username})
	}
	a := acl.New(acl.Options{SuperUsers: supers, AllowIfNoACL: b.cfg.AllowEveryoneIfNoACLFound, Store: st, Log: b.log.With("component", "acl")})
	if err := a.Load(ctx); err != nil {
		return nil, fmt.Errorf("authorizer: %w", err)
	}
	b.log.Info("ACL authorizer on", "acls", len(a.Describe(acl.Filter{ResourceType: auth.ResourceAny, Pattern: auth.PatternAny, Op: auth.OpAny, Permission: acl.PermAny})),
		"super.users", b.cfg.SuperUsers, "allow.everyone.if.no.acl.found", b.cfg.AllowEveryoneIfNoACLFound)
	return a, nil
}

// runACLs keeps a cluster broker's ACLs current: re-read whenever the
// broker applied a new metadata snapshot (every ACL write bumps the
// metadata version), so a change made through any broker is in effect
// here within one metadata poll. On a single node writes are local and
// the authorizer reloads itself.
func (b *Broker) runACLs(ctx context.Context) {
	if b.acls == nil || b.node == nil {
		return
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.acls.Run(ctx, b.node.Changed, aclRefreshInterval)
	}()
}
