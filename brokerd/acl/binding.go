package acl

import (
	"errors"
	"fmt"
	"strings"

	"github.com/kafki/kafki/brokerd/auth"
)

// Permission is ALLOW or DENY, with Kafka's AclPermissionType codes.
type Permission int8

// Kafka's permission types (ANY only in filters).
const (
	PermUnknown Permission = 0
	PermAny     Permission = 1
	PermDeny    Permission = 2
	PermAllow   Permission = 3
)

func (p Permission) String() string {
	switch p {
	case PermAny:
		return "ANY"
	case PermDeny:
		return "DENY"
	case PermAllow:
		return "ALLOW"
	}
	return "UNKNOWN"
}

// Wildcard is the resource name and host that match everything, and the
// principal name that matches every principal of its type ("User:*").
const Wildcard = "*"

// Binding is one ACL: Kafka's AclBinding (a resource pattern and an
// access control entry).
type Binding struct {
	Resource   auth.Resource // Pattern LITERAL or PREFIXED
	Principal  string        // "User:alice", "User:*"
	Host       string        // an IP address, or "*"
	Op         auth.Operation
	Permission Permission
}

func (b Binding) String() string {
	return fmt.Sprintf("(%s:%s:%s, %s from %s: %s %s)", b.Resource.Type, patternName(b.Resource.Pattern), b.Resource.Name,
		b.Principal, b.Host, b.Permission, b.Op)
}

func patternName(p auth.PatternType) string {
	switch p {
	case auth.PatternAny:
		return "ANY"
	case auth.PatternMatch:
		return "MATCH"
	case auth.PatternLiteral:
		return "LITERAL"
	case auth.PatternPrefixed:
		return "PREFIXED"
	}
	return "UNKNOWN"
}

// ErrInvalid marks a binding or filter that cannot be stored or applied:
// Kafka's INVALID_REQUEST.
var ErrInvalid = errors.New("invalid ACL")

// ParsePrincipal splits "Type:Name" (Kafka's
// SecurityUtils.parseKafkaPrincipal).
func ParsePrincipal(s string) (auth.Principal, error) {
	typ, name, ok := strings.Cut(s, ":")
	if !ok || typ == "" || name == "" {
		return auth.Principal{}, fmt.Errorf("%w: principal %q is not of the form Type:Name (User:alice)", ErrInvalid, s)
	}
	return auth.Principal{Type: typ, Name: name}, nil
}

// Validate checks a binding to create as Kafka's AclControlManager and
// AclApis do; the error wraps ErrInvalid and says what is wrong.
func (b Binding) Validate() error {
	r := b.Resource
	switch {
	case r.Type <= auth.ResourceAny || r.Type > auth.ResourceUser:
		return fmt.Errorf("%w: resource type %d", ErrInvalid, r.Type)
	case r.Pattern != auth.PatternLiteral && r.Pattern != auth.PatternPrefixed:
		return fmt.Errorf("%w: pattern type %d (LITERAL or PREFIXED)", ErrInvalid, r.Pattern)
	case b.Op <= auth.OpAny || b.Op > auth.OpDescribeTokens:
		return fmt.Errorf("%w: operation %d", ErrInvalid, b.Op)
	case b.Permission != PermAllow && b.Permission != PermDeny:
		return fmt.Errorf("%w: permission type %d (ALLOW or DENY)", ErrInvalid, b.Permission)
	case r.Name == "":
		return fmt.Errorf("%w: resource name should not be empty", ErrInvalid)
	case r.Type == auth.ResourceCluster && r.Name != auth.ClusterName:
		return fmt.Errorf("%w: the only valid name for the CLUSTER resource is %s", ErrInvalid, auth.ClusterName)
	case b.Host == "":
		return fmt.Errorf("%w: host should not be empty (use * for any host)", ErrInvalid)
	}
	_, err := ParsePrincipal(b.Principal)
	return err
}

// Filter selects bindings, as Kafka's AclBindingFilter: zero-valued
// strings (nil in the protocol) match anything; ResourceAny, OpAny and
// PermAny match any value; Pattern ANY matches any pattern type with the
// exact name, MATCH every binding that would apply to a resource of that
// name (the literal name, the "*" literal, prefixes of it).
type Filter struct {
	ResourceType auth.ResourceType
	Name         *string
	Pattern      auth.PatternType
	Principal    *string
	Host         *string
	Op           auth.Operation
	Permission   Permission
}

// Validate rejects filters with unknown values, as Kafka
// (AclBindingFilter.isUnknown): INVALID_REQUEST.
func (f Filter) Validate() error {
	switch {
	case f.ResourceType <= auth.ResourceUnknown || f.ResourceType > auth.ResourceUser:
		return fmt.Errorf("%w: filter resource type %d", ErrInvalid, f.ResourceType)
	case f.Pattern <= auth.PatternUnknown || f.Pattern > auth.PatternPrefixed:
		return fmt.Errorf("%w: filter pattern type %d", ErrInvalid, f.Pattern)
	case f.Op <= auth.OpUnknown || f.Op > auth.OpDescribeTokens:
		return fmt.Errorf("%w: filter operation %d", ErrInvalid, f.Op)
	case f.Permission <= PermUnknown || f.Permission > PermAllow:
		return fmt.Errorf("%w: filter permission type %d", ErrInvalid, f.Permission)
	}
	return nil
}

// Matches reports whether the filter selects b (Kafka's
// AclBindingFilter.matches).
func (f Filter) Matches(b Binding) bool {
	return f.matchesResource(b.Resource) &&
		(f.Principal == nil || *f.Principal == b.Principal) &&
		(f.Host == nil || *f.Host == b.Host) &&
		(f.Op == auth.OpAny || f.Op == b.Op) &&
		(f.Permission == PermAny || f.Permission == b.Permission)
}

func (f Filter) matchesResource(r auth.Resource) bool {
	if f.ResourceType != auth.ResourceAny && f.ResourceType != r.Type {
		return false
	}
	if f.Pattern != auth.PatternAny && f.Pattern != auth.PatternMatch && f.Pattern != r.Pattern {
		return false
	}
	if f.Name == nil {
		return true
	}
	name := *f.Name
	if f.Pattern == auth.PatternAny || f.Pattern == r.Pattern {
		return name == r.Name
	}
	// MATCH: would the binding apply to a resource called name?
	switch r.Pattern {
	case auth.PatternLiteral:
		return name == r.Name || r.Name == Wildcard
	case auth.PatternPrefixed:
		return strings.HasPrefix(name, r.Name)
	}
	return false
}
