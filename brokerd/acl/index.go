package acl

import (
	"net"
	"net/netip"
	"slices"
	"sort"

	"github.com/kafki/kafki/brokerd/auth"
)

// index is one immutable version of the bindings, shaped for decisions:
// per resource type, a map from literal name (including "*") and a map
// from prefix to the entries that apply, plus the distinct prefix
// lengths, so the prefixed bindings that apply to a name are found with
// one map lookup per distinct length (name[:n] does not allocate).
// Never modified once built.
type index struct {
	version  int64     // Store.ACLVersion the bindings were read at
	bindings []Binding // all of them, sorted (Describe)
	types    [auth.ResourceUser + 1]*typeIndex
}

type typeIndex struct {
	literal    map[string][]entry
	prefixed   map[string][]entry
	prefixLens []int     // distinct keys' lengths of prefixed, ascending
	all        []Binding // this type's bindings (AuthorizeByResourceType)
}

// entry is a binding's access control entry, parsed for matching.
type entry struct {
	principal auth.Principal // Name "*": every principal of Type
	host      string
	ip        netip.Addr // host as an address, when it is one
	op        auth.Operation
	deny      bool
}

// newIndex builds the index of bindings read at version. Bindings that do
// not validate are skipped (the store only holds validated ones).
func newIndex(bindings []Binding, version int64) *index {
	ix := &index{version: version, bindings: slices.Clone(bindings)}
	sortBindings(ix.bindings)
	for _, b := range ix.bindings {
		if b.Validate() != nil {
			continue
		}
		p, _ := ParsePrincipal(b.Principal)
		e := entry{principal: p, host: b.Host, op: b.Op, deny: b.Permission == PermDeny}
		if ip, err := netip.ParseAddr(b.Host); err == nil {
			e.ip = ip.Unmap()
		}
		t := ix.types[b.Resource.Type]
		if t == nil {
			t = &typeIndex{literal: map[string][]entry{}, prefixed: map[string][]entry{}}
			ix.types[b.Resource.Type] = t
		}
		t.all = append(t.all, b)
		if b.Resource.Pattern == auth.PatternPrefixed {
			if _, ok := t.prefixed[b.Resource.Name]; !ok && !slices.Contains(t.prefixLens, len(b.Resource.Name)) {
				t.prefixLens = append(t.prefixLens, len(b.Resource.Name))
			}
			t.prefixed[b.Resource.Name] = append(t.prefixed[b.Resource.Name], e)
		} else {
			t.literal[b.Resource.Name] = append(t.literal[b.Resource.Name], e)
		}
	}
	for _, t := range ix.types {
		if t != nil {
			sort.Ints(t.prefixLens)
		}
	}
	return ix
}

// sortBindings orders bindings by resource, then entry: Describe's order.
func sortBindings(bs []Binding) {
	sort.Slice(bs, func(i, j int) bool {
		a, b := bs[i], bs[j]
		switch {
		case a.Resource.Type != b.Resource.Type:
			return a.Resource.Type < b.Resource.Type
		case a.Resource.Pattern != b.Resource.Pattern:
			return a.Resource.Pattern < b.Resource.Pattern
		case a.Resource.Name != b.Resource.Name:
			return a.Resource.Name < b.Resource.Name
		case a.Principal != b.Principal:
			return a.Principal < b.Principal
		case a.Host != b.Host:
			return a.Host < b.Host
		case a.Op != b.Op:
			return a.Op < b.Op
		}
		return a.Permission < b.Permission
	})
}

// client is who asks, with the client's address worked out only when an
// entry names a host (most say "*"), so that a decision allocates nothing.
type client struct {
	principal auth.Principal
	session   *auth.Session
	resolved  bool
	ip        netip.Addr
	host      string
}

func (c *client) hostMatches(e *entry) bool {
	if e.host == Wildcard {
		return true
	}
	if !c.resolved {
		c.resolved = true
		if c.session != nil {
			if ta, ok := c.session.RemoteAddr.(*net.TCPAddr); ok {
				c.ip = ta.AddrPort().Addr().Unmap()
			} else {
				c.host = c.session.Host()
				if ip, err := netip.ParseAddr(c.host); err == nil {
					c.ip = ip.Unmap()
				}
			}
		}
	}
	if e.ip.IsValid() {
		return c.ip == e.ip
	}
	if c.host == "" && c.ip.IsValid() {
		c.host = c.ip.String()
	}
	return c.host == e.host
}

func (c *client) principalMatches(e *entry) bool {
	return e.principal == c.principal || (e.principal.Name == Wildcard && e.principal.Type == c.principal.Type)
}

// verdict is the outcome of the bindings that apply to one action.
type verdict int8

const (
	noACL   verdict = iota // no binding names the resource at all
	denied                 // bindings name it, none allows (or one denies)
	allowed                // an ALLOW applies and no DENY does
)

// decide applies step 2-4 of the package doc to op on r.
func (ix *index) decide(c *client, op auth.Operation, r auth.Resource) verdict {
	if r.Type < 0 || int(r.Type) >= len(ix.types) {
		return noACL
	}
	t := ix.types[r.Type]
	if t == nil {
		return noACL
	}
	var s scan
	if s.section(c, op, t.literal[r.Name]) {
		return denied
	}
	if r.Name != Wildcard && s.section(c, op, t.literal[Wildcard]) {
		return denied
	}
	for _, n := range t.prefixLens {
		if n > len(r.Name) {
			break
		}
		if s.section(c, op, t.prefixed[r.Name[:n]]) {
			return denied
		}
	}
	switch {
	case s.allow:
		return allowed
	case s.matched:
		return denied
	}
	return noACL
}

// scan accumulates what the entries that apply to a resource say.
type scan struct {
	matched bool // some entry names the resource
	allow   bool // some ALLOW entry applies
}

// section scans the entries of one pattern; true when a DENY applies.
func (s *scan) section(c *client, op auth.Operation, es []entry) bool {
	for i := range es {
		e := &es[i]
		s.matched = true
		if !c.principalMatches(e) || !c.hostMatches(e) {
			continue
		}
		if e.deny {
			if e.op == op || e.op == auth.OpAll {
				return true
			}
			continue
		}
		if opAllows(e.op, op) {
			s.allow = true
		}
	}
	return false
}

// opAllows reports whether an ALLOW of granted allows op: the same
// operation, ALL, or one that implies op (Kafka's implied operations).
func opAllows(granted, op auth.Operation) bool {
	switch {
	case granted == op || granted == auth.OpAll:
		return true
	case op == auth.OpDescribe:
		return granted == auth.OpRead || granted == auth.OpWrite || granted == auth.OpDelete || granted == auth.OpAlter
	case op == auth.OpDescribeConfigs:
		return granted == auth.OpAlterConfigs
	}
	return false
}

func parseIP(s string) (netip.Addr, error) {
	ip, err := netip.ParseAddr(s)
	return ip.Unmap(), err
}
