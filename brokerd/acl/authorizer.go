package acl

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kafki/kafki/brokerd/auth"
)

// Store keeps the bindings: the embedded metadata store on a single node
// (meta.Embedded), the cluster's DynamoDB table in a cluster
// (metastore.Store). The store is the one source of truth.
type Store interface {
	// ACLs returns every binding and the ACL change counter the read
	// saw.
	ACLs(ctx context.Context) ([]Binding, int64, error)
	// ACLVersion returns the ACL change counter: it moves with every
	// PutACLs and DeleteACLs that changed something (it may move with
	// others too), and never goes back.
	ACLVersion(ctx context.Context) (int64, error)
	// PutACLs stores the bindings; one already stored stays (creating
	// an existing binding succeeds, as in Kafka).
	PutACLs(ctx context.Context, bs []Binding) error
	// DeleteACLs removes exactly these bindings; absent ones are
	// ignored.
	DeleteACLs(ctx context.Context, bs []Binding) error
}

// Options configure an Authorizer.
type Options struct {
	// SuperUsers are allowed everything (super.users).
	SuperUsers []auth.Principal
	// AllowIfNoACL allows an action on a resource no binding names
	// (allow.everyone.if.no.acl.found; Kafka's default, false, denies).
	AllowIfNoACL bool
	Store        Store
	Log          *slog.Logger
}

// ParseSuperUsers reads super.users as Kafka does: principals separated
// by semicolons ("User:admin;User:broker"), blanks around them ignored.
func ParseSuperUsers(s string) ([]auth.Principal, error) {
	var out []auth.Principal
	for _, p := range strings.Split(s, ";") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		pr, err := ParsePrincipal(p)
		if err != nil {
			return nil, fmt.Errorf("super.users: %w", err)
		}
		out = append(out, pr)
	}
	return out, nil
}

// Authorizer is the ACL authorizer (auth.Authorizer). Safe for concurrent
// use; decisions take no lock.
type Authorizer struct {
	o     Options
	super map[auth.Principal]struct{} // read-only after New
	ix    atomic.Pointer[index]       // nil until the first Load succeeds
	// loadMu serializes reads of the store and index swaps, so an index
	// read earlier never replaces one read later.
	loadMu sync.Mutex
}

var _ auth.Authorizer = (*Authorizer)(nil)

// New returns an authorizer over o.Store; Load must succeed before it
// allows anyone but super users.
func New(o Options) *Authorizer {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	a := &Authorizer{o: o, super: map[auth.Principal]struct{}{}}
	for _, p := range o.SuperUsers {
		a.super[p] = struct{}{}
	}
	return a
}

// Load reads every binding from the store and swaps the index.
func (a *Authorizer) Load(ctx context.Context) error {
	a.loadMu.Lock()
	defer a.loadMu.Unlock()
	bs, v, err := a.o.Store.ACLs(ctx)
	if err != nil {
		return fmt.Errorf("read ACLs: %w", err)
	}
	if cur := a.ix.Load(); cur != nil && cur.version > v {
		return nil // the store's counter never goes back; this read is older
	}
	a.ix.Store(newIndex(bs, v))
	return nil
}

// Refresh reloads the bindings when the store's change counter moved
// since the last Load (one read of the counter otherwise).
func (a *Authorizer) Refresh(ctx context.Context) error {
	v, err := a.o.Store.ACLVersion(ctx)
	if err != nil {
		return fmt.Errorf("read ACL version: %w", err)
	}
	if cur := a.ix.Load(); cur != nil && cur.version == v {
		return nil
	}
	return a.Load(ctx)
}

// Run refreshes the bindings whenever changed's channel closes (in a
// cluster: the broker applied a new metadata snapshot, which every ACL
// write causes, since it bumps the metadata version), and at least every
// interval, until ctx ends.
func (a *Authorizer) Run(ctx context.Context, changed func() <-chan struct{}, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		var ch <-chan struct{}
		if changed != nil {
			ch = changed()
		}
		select {
		case <-ctx.Done():
			return
		case <-ch:
		case <-t.C:
		}
		if err := a.Refresh(ctx); err != nil && ctx.Err() == nil {
			a.o.Log.Warn("refresh ACLs", "err", err)
		}
	}
}

// Version is the ACL change counter of the bindings decisions use now (-1
// before the first Load).
func (a *Authorizer) Version() int64 {
	if ix := a.ix.Load(); ix != nil {
		return ix.version
	}
	return -1
}

// Authorize implements auth.Authorizer.
func (a *Authorizer) Authorize(ctx context.Context, req *auth.Request, actions []auth.Action) []auth.Result {
	return a.AppendAuthorize(make([]auth.Result, 0, len(actions)), req, actions)
}

// AppendAuthorize appends one result per action to dst and returns it:
// Authorize without allocating, for a caller that reuses dst (the
// produce and fetch paths).
func (a *Authorizer) AppendAuthorize(dst []auth.Result, req *auth.Request, actions []auth.Action) []auth.Result {
	c := client{principal: auth.Anonymous}
	if req != nil && req.Session != nil {
		c.session, c.principal = req.Session, req.Session.Principal
	}
	if a.isSuper(c.principal) {
		for range actions {
			dst = append(dst, auth.Allowed)
		}
		return dst
	}
	ix := a.ix.Load()
	for _, act := range actions {
		dst = append(dst, a.result(ix, &c, act.Op, act.Resource))
	}
	return dst
}

func (a *Authorizer) result(ix *index, c *client, op auth.Operation, r auth.Resource) auth.Result {
	if ix == nil {
		return auth.Denied // not loaded: fail closed
	}
	switch ix.decide(c, op, r) {
	case allowed:
		return auth.Allowed
	case noACL:
		if a.o.AllowIfNoACL {
			return auth.Allowed
		}
	}
	return auth.Denied
}

// AuthorizeByResourceType implements auth.Authorizer as Kafka's default
// Authorizer.authorizeByResourceType: allowed when op on a resource of
// the type named "hardcode" is (super users, allow.everyone.if.no.acl.found,
// wildcards), or when some ALLOW of the principal and host for op (or
// ALL) on a pattern of the type is not dominated by a DENY (the same
// literal, or a prefix of it denied); implied operations do not count.
func (a *Authorizer) AuthorizeByResourceType(_ context.Context, req *auth.Request, op auth.Operation, rt auth.ResourceType) auth.Result {
	c := client{principal: auth.Anonymous}
	if req != nil && req.Session != nil {
		c.session, c.principal = req.Session, req.Session.Principal
	}
	if a.isSuper(c.principal) {
		return auth.Allowed
	}
	ix := a.ix.Load()
	if a.result(ix, &c, op, auth.Resource{Type: rt, Name: "hardcode", Pattern: auth.PatternLiteral}) == auth.Allowed {
		return auth.Allowed
	}
	if ix == nil || rt < 0 || int(rt) >= len(ix.types) || ix.types[rt] == nil {
		return auth.Denied
	}
	p := typePatterns{denyLit: map[string]bool{}, denyPre: map[string]bool{}}
	for _, b := range ix.types[rt].all {
		if b.Op != op && b.Op != auth.OpAll {
			continue
		}
		pr, _ := ParsePrincipal(b.Principal)
		e := entry{principal: pr, host: b.Host}
		if ip, err := parseIP(b.Host); err == nil {
			e.ip = ip
		}
		if !c.hostMatches(&e) || !c.principalMatches(&e) {
			continue
		}
		if r, decided := p.add(b); decided {
			return r
		}
	}
	return p.result()
}

// typePatterns collects the patterns of the ALLOW and DENY bindings of
// one principal and operation on one resource type.
type typePatterns struct {
	denyLit, denyPre   map[string]bool
	allowLit, allowPre []string
}

// add files b; decided when a wildcard settles the answer at once.
func (p *typePatterns) add(b Binding) (auth.Result, bool) {
	lit := b.Resource.Pattern == auth.PatternLiteral
	wild := lit && b.Resource.Name == Wildcard
	switch {
	case b.Permission == PermDeny && wild:
		return auth.Denied, true
	case b.Permission == PermDeny && lit:
		p.denyLit[b.Resource.Name] = true
	case b.Permission == PermDeny:
		p.denyPre[b.Resource.Name] = true
	case wild:
		return auth.Allowed, true
	case lit:
		p.allowLit = append(p.allowLit, b.Resource.Name)
	default:
		p.allowPre = append(p.allowPre, b.Resource.Name)
	}
	return auth.Denied, false
}

// result: allowed when some ALLOW is dominated by no DENY (the same
// literal, or a denied prefix of it).
func (p *typePatterns) result() auth.Result {
	for _, n := range p.allowLit {
		if !p.denyLit[n] && !p.dominated(n) {
			return auth.Allowed
		}
	}
	for _, n := range p.allowPre {
		if !p.dominated(n) {
			return auth.Allowed
		}
	}
	return auth.Denied
}

func (p *typePatterns) dominated(name string) bool {
	for n := 1; n <= len(name); n++ {
		if p.denyPre[name[:n]] {
			return true
		}
	}
	return false
}

// isSuper reports whether p is in super.users (no hashing when none are).
func (a *Authorizer) isSuper(p auth.Principal) bool {
	if len(a.super) == 0 {
		return false
	}
	_, ok := a.super[p]
	return ok
}

// AuthorizedOperations is the KIP-430 bitfield of ops (bit i: operation
// code i) the request's principal may perform on r, among ops (the
// operations Kafka lists for r's type).
func (a *Authorizer) AuthorizedOperations(req *auth.Request, r auth.Resource, ops []auth.Operation) int32 {
	var actions [16]auth.Action
	var results [16]auth.Result
	n := 0
	for _, op := range ops {
		if n < len(actions) {
			actions[n] = auth.Action{Op: op, Resource: r}
			n++
		}
	}
	res := a.AppendAuthorize(results[:0], req, actions[:n])
	var bits int32
	for i, r := range res {
		if r == auth.Allowed {
			bits |= 1 << actions[i].Op
		}
	}
	return bits
}
