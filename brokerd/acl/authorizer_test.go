package acl

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"

	"github.com/kafki/kafki/brokerd/auth"
)

// memStore is a Store in memory, for unit tests.
type memStore struct {
	mu      sync.Mutex
	set     map[Binding]bool
	version int64
}

func newMemStore(bs ...Binding) *memStore {
	m := &memStore{set: map[Binding]bool{}}
	for _, b := range bs {
		m.set[b] = true
	}
	return m
}

func (m *memStore) ACLs(context.Context) ([]Binding, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Binding, 0, len(m.set))
	for b := range m.set {
		out = append(out, b)
	}
	return out, m.version, nil
}

func (m *memStore) ACLVersion(context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.version, nil
}

func (m *memStore) PutACLs(_ context.Context, bs []Binding) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range bs {
		m.set[b] = true
	}
	m.version++
	return nil
}

func (m *memStore) DeleteACLs(_ context.Context, bs []Binding) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range bs {
		delete(m.set, b)
	}
	m.version++
	return nil
}

func allow(rt auth.ResourceType, pat auth.PatternType, name, principal, host string, op auth.Operation) Binding {
	return Binding{Resource: auth.Resource{Type: rt, Name: name, Pattern: pat}, Principal: principal, Host: host, Op: op, Permission: PermAllow}
}

func deny(rt auth.ResourceType, pat auth.PatternType, name, principal, host string, op auth.Operation) Binding {
	b := allow(rt, pat, name, principal, host, op)
	b.Permission = PermDeny
	return b
}

const (
	lit = auth.PatternLiteral
	pre = auth.PatternPrefixed
	tp  = auth.ResourceTopic
	grp = auth.ResourceGroup
)

func request(principal, ip string) *auth.Request {
	p, err := ParsePrincipal(principal)
	if err != nil {
		panic(err)
	}
	s := auth.NewSession("PLAINTEXT", auth.Plaintext, &net.TCPAddr{IP: net.ParseIP(ip), Port: 50000})
	s.Principal = p
	return &auth.Request{Session: s}
}

func newAuthorizer(t testing.TB, o Options, bs ...Binding) *Authorizer {
	t.Helper()
	o.Store = newMemStore(bs...)
	a := New(o)
	if err := a.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	return a
}

func decide(a *Authorizer, req *auth.Request, op auth.Operation, r auth.Resource) auth.Result {
	return a.Authorize(context.Background(), req, []auth.Action{{Op: op, Resource: r}})[0]
}

// TestSemantics checks the decision rules of the package doc, one case
// per rule, against the StandardAuthorizer behaviour each names.
func TestSemantics(t *testing.T) {
	const alice, bob = "User:alice", "User:bob"
	cases := []struct {
		name     string
		opts     Options
		acls     []Binding
		who, ip  string
		op       auth.Operation
		resource auth.Resource
		want     auth.Result
	}{
		{name: "no ACL denies by default", who: alice, op: auth.OpRead, resource: auth.Topic("t"), want: auth.Denied},
		{name: "no ACL with allow.everyone.if.no.acl.found", opts: Options{AllowIfNoACL: true}, who: alice, op: auth.OpRead, resource: auth.Topic("t"), want: auth.Allowed},
		{name: "allow.everyone does not apply when the resource has ACLs of others", opts: Options{AllowIfNoACL: true},
			acls: []Binding{allow(tp, lit, "t", bob, "*", auth.OpRead)}, who: alice, op: auth.OpRead, resource: auth.Topic("t"), want: auth.Denied},
		{name: "allow.everyone applies to other resources", opts: Options{AllowIfNoACL: true},
			acls: []Binding{allow(tp, lit, "t", bob, "*", auth.OpRead)}, who: alice, op: auth.OpRead, resource: auth.Topic("u"), want: auth.Allowed},
		{name: "literal allow", acls: []Binding{allow(tp, lit, "t", alice, "*", auth.OpRead)}, who: alice, op: auth.OpRead, resource: auth.Topic("t"), want: auth.Allowed},
		{name: "literal is not a prefix", acls: []Binding{allow(tp, lit, "t", alice, "*", auth.OpRead)}, who: alice, op: auth.OpRead, resource: auth.Topic("tt"), want: auth.Denied},
		{name: "other principal", acls: []Binding{allow(tp, lit, "t", alice, "*", auth.OpRead)}, who: bob, op: auth.OpRead, resource: auth.Topic("t"), want: auth.Denied},
		{name: "other operation", acls: []Binding{allow(tp, lit, "t", alice, "*", auth.OpRead)}, who: alice, op: auth.OpWrite, resource: auth.Topic("t"), want: auth.Denied},
		{name: "other resource type", acls: []Binding{allow(grp, lit, "t", alice, "*", auth.OpRead)}, who: alice, op: auth.OpRead, resource: auth.Topic("t"), want: auth.Denied},
		{name: "prefixed allow", acls: []Binding{allow(tp, pre, "orders-", alice, "*", auth.OpWrite)}, who: alice, op: auth.OpWrite, resource: auth.Topic("orders-eu"), want: auth.Allowed},
		{name: "prefixed equal name", acls: []Binding{allow(tp, pre, "orders-", alice, "*", auth.OpWrite)}, who: alice, op: auth.OpWrite, resource: auth.Topic("orders-"), want: auth.Allowed},
		{name: "prefixed longer than name", acls: []Binding{allow(tp, pre, "orders-", alice, "*", auth.OpWrite)}, who: alice, op: auth.OpWrite, resource: auth.Topic("orders"), want: auth.Denied},
		{name: "prefixed *: only names starting with *", acls: []Binding{allow(tp, pre, "*", alice, "*", auth.OpWrite)}, who: alice, op: auth.OpWrite, resource: auth.Topic("t"), want: auth.Denied},
		{name: "wildcard resource", acls: []Binding{allow(tp, lit, "*", alice, "*", auth.OpRead)}, who: alice, op: auth.OpRead, resource: auth.Topic("anything"), want: auth.Allowed},
		{name: "wildcard principal", acls: []Binding{allow(tp, lit, "t", "User:*", "*", auth.OpRead)}, who: bob, op: auth.OpRead, resource: auth.Topic("t"), want: auth.Allowed},
		{name: "wildcard principal of another type", acls: []Binding{allow(tp, lit, "t", "Group:*", "*", auth.OpRead)}, who: bob, op: auth.OpRead, resource: auth.Topic("t"), want: auth.Denied},
		{name: "DENY wins over ALLOW", acls: []Binding{allow(tp, lit, "t", alice, "*", auth.OpRead), deny(tp, lit, "t", alice, "*", auth.OpRead)},
			who: alice, op: auth.OpRead, resource: auth.Topic("t"), want: auth.Denied},
		{name: "prefixed DENY wins over literal ALLOW", acls: []Binding{allow(tp, lit, "secret-x", alice, "*", auth.OpRead), deny(tp, pre, "secret-", "User:*", "*", auth.OpAll)},
			who: alice, op: auth.OpRead, resource: auth.Topic("secret-x"), want: auth.Denied},
		{name: "wildcard DENY wins over prefixed ALLOW", acls: []Binding{allow(tp, pre, "p", alice, "*", auth.OpRead), deny(tp, lit, "*", alice, "*", auth.OpRead)},
			who: alice, op: auth.OpRead, resource: auth.Topic("pq"), want: auth.Denied},
		{name: "DENY of another operation does not deny", acls: []Binding{allow(tp, lit, "t", alice, "*", auth.OpAll), deny(tp, lit, "t", alice, "*", auth.OpWrite)},
			who: alice, op: auth.OpRead, resource: auth.Topic("t"), want: auth.Allowed},
		{name: "DENY ALL denies every operation", acls: []Binding{allow(tp, lit, "t", alice, "*", auth.OpRead), deny(tp, lit, "t", alice, "*", auth.OpAll)},
			who: alice, op: auth.OpRead, resource: auth.Topic("t"), want: auth.Denied},
		{name: "DENY of another principal does not deny", acls: []Binding{allow(tp, lit, "t", alice, "*", auth.OpRead), deny(tp, lit, "t", bob, "*", auth.OpRead)},
			who: alice, op: auth.OpRead, resource: auth.Topic("t"), want: auth.Allowed},
		{name: "ALL allows everything", acls: []Binding{allow(tp, lit, "t", alice, "*", auth.OpAll)}, who: alice, op: auth.OpAlterConfigs, resource: auth.Topic("t"), want: auth.Allowed},
		{name: "READ implies DESCRIBE", acls: []Binding{allow(tp, lit, "t", alice, "*", auth.OpRead)}, who: alice, op: auth.OpDescribe, resource: auth.Topic("t"), want: auth.Allowed},
		{name: "WRITE implies DESCRIBE", acls: []Binding{allow(tp, lit, "t", alice, "*", auth.OpWrite)}, who: alice, op: auth.OpDescribe, resource: auth.Topic("t"), want: auth.Allowed},
		{name: "DELETE implies DESCRIBE", acls: []Binding{allow(tp, lit, "t", alice, "*", auth.OpDelete)}, who: alice, op: auth.OpDescribe, resource: auth.Topic("t"), want: auth.Allowed},
		{name: "ALTER implies DESCRIBE", acls: []Binding{allow(tp, lit, "t", alice, "*", auth.OpAlter)}, who: alice, op: auth.OpDescribe, resource: auth.Topic("t"), want: auth.Allowed},
		{name: "ALTER_CONFIGS implies DESCRIBE_CONFIGS", acls: []Binding{allow(tp, lit, "t", alice, "*", auth.OpAlterConfigs)}, who: alice, op: auth.OpDescribeConfigs, resource: auth.Topic("t"), want: auth.Allowed},
		{name: "DESCRIBE implies nothing", acls: []Binding{allow(tp, lit, "t", alice, "*", auth.OpDescribe)}, who: alice, op: auth.OpRead, resource: auth.Topic("t"), want: auth.Denied},
		{name: "CREATE does not imply DESCRIBE", acls: []Binding{allow(tp, lit, "t", alice, "*", auth.OpCreate)}, who: alice, op: auth.OpDescribe, resource: auth.Topic("t"), want: auth.Denied},
		{name: "DENY READ does not deny DESCRIBE", acls: []Binding{allow(tp, lit, "t", alice, "*", auth.OpWrite), deny(tp, lit, "t", alice, "*", auth.OpRead)},
			who: alice, op: auth.OpDescribe, resource: auth.Topic("t"), want: auth.Allowed},
		{name: "host match", acls: []Binding{allow(tp, lit, "t", alice, "10.0.0.7", auth.OpRead)}, who: alice, ip: "10.0.0.7", op: auth.OpRead, resource: auth.Topic("t"), want: auth.Allowed},
		{name: "host mismatch", acls: []Binding{allow(tp, lit, "t", alice, "10.0.0.7", auth.OpRead)}, who: alice, ip: "10.0.0.8", op: auth.OpRead, resource: auth.Topic("t"), want: auth.Denied},
		{name: "host DENY for one address", acls: []Binding{allow(tp, lit, "t", alice, "*", auth.OpRead), deny(tp, lit, "t", alice, "10.0.0.8", auth.OpRead)},
			who: alice, ip: "10.0.0.8", op: auth.OpRead, resource: auth.Topic("t"), want: auth.Denied},
		{name: "host DENY spares other addresses", acls: []Binding{allow(tp, lit, "t", alice, "*", auth.OpRead), deny(tp, lit, "t", alice, "10.0.0.8", auth.OpRead)},
			who: alice, ip: "10.0.0.9", op: auth.OpRead, resource: auth.Topic("t"), want: auth.Allowed},
		{name: "IPv4-mapped client address", acls: []Binding{allow(tp, lit, "t", alice, "10.0.0.7", auth.OpRead)}, who: alice, ip: "::ffff:10.0.0.7", op: auth.OpRead, resource: auth.Topic("t"), want: auth.Allowed},
		{name: "super user without ACLs", opts: Options{SuperUsers: []auth.Principal{{Type: "User", Name: "admin"}}}, who: "User:admin", op: auth.OpAlter, resource: auth.Cluster(), want: auth.Allowed},
		{name: "super user despite DENY", opts: Options{SuperUsers: []auth.Principal{{Type: "User", Name: "admin"}}},
			acls: []Binding{deny(tp, lit, "t", "User:*", "*", auth.OpAll)}, who: "User:admin", op: auth.OpRead, resource: auth.Topic("t"), want: auth.Allowed},
		{name: "cluster resource", acls: []Binding{allow(auth.ResourceCluster, lit, auth.ClusterName, alice, "*", auth.OpAlter)}, who: alice, op: auth.OpAlter, resource: auth.Cluster(), want: auth.Allowed},
		{name: "transactional id prefixed", acls: []Binding{allow(auth.ResourceTransactionalID, pre, "app-", alice, "*", auth.OpWrite)}, who: alice, op: auth.OpWrite, resource: auth.TransactionalID("app-1"), want: auth.Allowed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := newAuthorizer(t, c.opts, c.acls...)
			ip := c.ip
			if ip == "" {
				ip = "127.0.0.1"
			}
			if got := decide(a, request(c.who, ip), c.op, c.resource); got != c.want {
				t.Fatalf("%s %s on %+v with %v: got %v, want %v", c.who, c.op, c.resource, c.acls, got, c.want)
			}
		})
	}
}

// An authorizer that never loaded denies everyone but super users: a
// broker must not serve with ACLs it could not read.
func TestUnloadedFailsClosed(t *testing.T) {
	a := New(Options{Store: newMemStore(), AllowIfNoACL: true, SuperUsers: []auth.Principal{{Type: "User", Name: "admin"}}})
	if got := decide(a, request("User:alice", "127.0.0.1"), auth.OpRead, auth.Topic("t")); got != auth.Denied {
		t.Fatalf("unloaded authorizer: %v", got)
	}
	if got := decide(a, request("User:admin", "127.0.0.1"), auth.OpRead, auth.Topic("t")); got != auth.Allowed {
		t.Fatalf("super user, unloaded: %v", got)
	}
}

func TestAuthorizeByResourceType(t *testing.T) {
	const alice = "User:alice"
	cases := []struct {
		name string
		opts Options
		acls []Binding
		want auth.Result
	}{
		{name: "nothing", want: auth.Denied},
		{name: "allow.everyone.if.no.acl.found", opts: Options{AllowIfNoACL: true}, want: auth.Allowed},
		{name: "one literal WRITE", acls: []Binding{allow(tp, lit, "t", alice, "*", auth.OpWrite)}, want: auth.Allowed},
		{name: "one prefixed WRITE", acls: []Binding{allow(tp, pre, "t", alice, "*", auth.OpWrite)}, want: auth.Allowed},
		{name: "ALL", acls: []Binding{allow(tp, lit, "t", alice, "*", auth.OpAll)}, want: auth.Allowed},
		{name: "READ is not WRITE", acls: []Binding{allow(tp, lit, "t", alice, "*", auth.OpRead)}, want: auth.Denied},
		{name: "literal denied", acls: []Binding{allow(tp, lit, "t", alice, "*", auth.OpWrite), deny(tp, lit, "t", alice, "*", auth.OpWrite)}, want: auth.Denied},
		{name: "dominated by a prefixed DENY", acls: []Binding{allow(tp, lit, "ab", alice, "*", auth.OpWrite), deny(tp, pre, "a", alice, "*", auth.OpWrite)}, want: auth.Denied},
		{name: "a DENY elsewhere leaves it allowed", acls: []Binding{allow(tp, lit, "ab", alice, "*", auth.OpWrite), deny(tp, pre, "b", alice, "*", auth.OpWrite)}, want: auth.Allowed},
		{name: "wildcard DENY", acls: []Binding{allow(tp, lit, "ab", alice, "*", auth.OpWrite), deny(tp, lit, "*", alice, "*", auth.OpWrite)}, want: auth.Denied},
		{name: "another principal's", acls: []Binding{allow(tp, lit, "t", "User:bob", "*", auth.OpWrite)}, want: auth.Denied},
		{name: "super user", opts: Options{SuperUsers: []auth.Principal{{Type: "User", Name: "alice"}}}, want: auth.Allowed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := newAuthorizer(t, c.opts, c.acls...)
			if got := a.AuthorizeByResourceType(context.Background(), request(alice, "127.0.0.1"), auth.OpWrite, tp); got != c.want {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestParseSuperUsers(t *testing.T) {
	got, err := ParseSuperUsers(" User:admin ;User:broker;; ")
	if err != nil || len(got) != 2 || got[0] != (auth.Principal{Type: "User", Name: "admin"}) || got[1].Name != "broker" {
		t.Fatalf("got %v %v", got, err)
	}
	if _, err := ParseSuperUsers("admin"); err == nil {
		t.Fatal("a principal without a type was accepted")
	}
}

func TestFilters(t *testing.T) {
	bs := []Binding{
		allow(tp, lit, "orders", "User:alice", "*", auth.OpRead),
		allow(tp, lit, "*", "User:bob", "*", auth.OpWrite),
		deny(tp, pre, "ord", "User:alice", "10.0.0.1", auth.OpAll),
		allow(grp, lit, "orders", "User:alice", "*", auth.OpRead),
	}
	name := func(s string) *string { return &s }
	cases := []struct {
		f    Filter
		want []int
	}{
		{Filter{ResourceType: auth.ResourceAny, Pattern: auth.PatternAny, Op: auth.OpAny, Permission: PermAny}, []int{0, 1, 2, 3}},
		{Filter{ResourceType: tp, Pattern: auth.PatternAny, Op: auth.OpAny, Permission: PermAny}, []int{0, 1, 2}},
		{Filter{ResourceType: tp, Name: name("orders"), Pattern: auth.PatternAny, Op: auth.OpAny, Permission: PermAny}, []int{0}},
		{Filter{ResourceType: tp, Name: name("orders"), Pattern: auth.PatternMatch, Op: auth.OpAny, Permission: PermAny}, []int{0, 1, 2}},
		{Filter{ResourceType: tp, Name: name("ord"), Pattern: auth.PatternPrefixed, Op: auth.OpAny, Permission: PermAny}, []int{2}},
		{Filter{ResourceType: tp, Name: name("orders"), Pattern: auth.PatternLiteral, Op: auth.OpAny, Permission: PermAny}, []int{0}},
		{Filter{ResourceType: auth.ResourceAny, Pattern: auth.PatternAny, Principal: name("User:alice"), Op: auth.OpAny, Permission: PermAllow}, []int{0, 3}},
		{Filter{ResourceType: auth.ResourceAny, Pattern: auth.PatternAny, Host: name("10.0.0.1"), Op: auth.OpAny, Permission: PermAny}, []int{2}},
		{Filter{ResourceType: auth.ResourceAny, Pattern: auth.PatternAny, Op: auth.OpWrite, Permission: PermAny}, []int{1}},
	}
	for i, c := range cases {
		var got []int
		for j, b := range bs {
			if c.f.Matches(b) {
				got = append(got, j)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("case %d: matched %v, want %v", i, got, c.want)
		}
	}
	if err := (Filter{ResourceType: auth.ResourceUnknown, Pattern: auth.PatternAny, Op: auth.OpAny, Permission: PermAny}).Validate(); err == nil {
		t.Error("filter of UNKNOWN resource type validated")
	}
}

func TestValidate(t *testing.T) {
	good := allow(tp, lit, "t", "User:alice", "*", auth.OpRead)
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := map[string]func(*Binding){
		"resource type ANY":      func(b *Binding) { b.Resource.Type = auth.ResourceAny },
		"pattern MATCH":          func(b *Binding) { b.Resource.Pattern = auth.PatternMatch },
		"operation ANY":          func(b *Binding) { b.Op = auth.OpAny },
		"permission ANY":         func(b *Binding) { b.Permission = PermAny },
		"empty name":             func(b *Binding) { b.Resource.Name = "" },
		"cluster of other name":  func(b *Binding) { b.Resource = auth.Resource{Type: auth.ResourceCluster, Name: "x", Pattern: lit} },
		"principal without type": func(b *Binding) { b.Principal = "alice" },
		"empty host":             func(b *Binding) { b.Host = "" },
	}
	for name, mutate := range bad {
		b := good
		mutate(&b)
		if err := b.Validate(); err == nil {
			t.Errorf("%s: validated", name)
		}
	}
}

// Create, Describe and Delete go through the store and take effect at
// once on this authorizer; another authorizer on the same store sees
// them after Refresh.
func TestAdminRoundTrip(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	a, b := New(Options{Store: st}), New(Options{Store: st})
	for _, x := range []*Authorizer{a, b} {
		if err := x.Load(ctx); err != nil {
			t.Fatal(err)
		}
	}
	alice := request("User:alice", "127.0.0.1")
	acl := allow(tp, pre, "o", "User:alice", "*", auth.OpRead)
	if err := a.Create(ctx, []Binding{acl}); err != nil {
		t.Fatal(err)
	}
	if decide(a, alice, auth.OpRead, auth.Topic("orders")) != auth.Allowed {
		t.Fatal("created ACL not in effect on the broker that created it")
	}
	if decide(b, alice, auth.OpRead, auth.Topic("orders")) != auth.Denied {
		t.Fatal("other broker changed without a refresh")
	}
	if err := b.Refresh(ctx); err != nil || decide(b, alice, auth.OpRead, auth.Topic("orders")) != auth.Allowed {
		t.Fatalf("after refresh: %v", err)
	}
	all := Filter{ResourceType: auth.ResourceAny, Pattern: auth.PatternAny, Op: auth.OpAny, Permission: PermAny}
	if got := a.Describe(all); len(got) != 1 || got[0] != acl {
		t.Fatalf("describe: %v", got)
	}
	del, err := b.Delete(ctx, []Filter{all, {ResourceType: grp, Pattern: auth.PatternAny, Op: auth.OpAny, Permission: PermAny}})
	if err != nil || len(del) != 2 || len(del[0]) != 1 || len(del[1]) != 0 {
		t.Fatalf("delete: %v %v", del, err)
	}
	if err := a.Refresh(ctx); err != nil || decide(a, alice, auth.OpRead, auth.Topic("orders")) != auth.Denied {
		t.Fatalf("deleted ACL still in effect: %v", err)
	}
}

func TestAuthorizedOperations(t *testing.T) {
	a := newAuthorizer(t, Options{}, allow(tp, lit, "t", "User:alice", "*", auth.OpRead), allow(tp, lit, "t", "User:alice", "*", auth.OpAlterConfigs))
	ops := []auth.Operation{auth.OpRead, auth.OpWrite, auth.OpDescribe, auth.OpDescribeConfigs, auth.OpAlterConfigs}
	got := a.AuthorizedOperations(request("User:alice", "127.0.0.1"), auth.Topic("t"), ops)
	want := int32(1<<auth.OpRead | 1<<auth.OpDescribe | 1<<auth.OpDescribeConfigs | 1<<auth.OpAlterConfigs)
	if got != want {
		t.Fatalf("got %b, want %b", got, want)
	}
}

// Decisions run concurrently with changes and each sees one version of
// the bindings: an ALLOW and a DENY created together are never seen one
// without the other, so the action is never allowed. (Run under -race.)
func TestDecisionsSeeOneVersion(t *testing.T) {
	ctx := context.Background()
	a := newAuthorizer(t, Options{})
	pair := []Binding{allow(tp, lit, "t", "User:alice", "*", auth.OpRead), deny(tp, pre, "t", "User:alice", "*", auth.OpRead)}
	req := request("User:alice", "127.0.0.1")
	done := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dst := make([]auth.Result, 0, 1)
			for {
				select {
				case <-done:
					return
				default:
				}
				if a.AppendAuthorize(dst[:0], req, []auth.Action{{Op: auth.OpRead, Resource: auth.Topic("t")}})[0] == auth.Allowed {
					t.Error("allowed: a decision saw the ALLOW without the DENY created with it")
					return
				}
			}
		}()
	}
	all := Filter{ResourceType: auth.ResourceAny, Pattern: auth.PatternAny, Op: auth.OpAny, Permission: PermAny}
	for i := 0; i < 200; i++ {
		if err := a.Create(ctx, pair); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Delete(ctx, []Filter{all}); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
}
