// Package auth holds who is on a connection and whether they may do what
// they ask: the per-connection Session (listener, security protocol,
// remote address, client software, principal, SASL state) and the
// Authorizer every request handler of package server consults, modelled
// on Kafka's org.apache.kafka.server.authorizer.Authorizer. Operation,
// ResourceType and PatternType carry Kafka's wire codes (AclOperation,
// ResourceType, PatternType), so ACLs can be stored and answered
// (DescribeAcls, CreateAcls) without a translation table.
//
// A session's listener and protocol come from the listener that accepted
// the connection (server.Listener); on an SSL listener a verified client
// certificate sets the principal at the handshake (server/conn.go, mapped
// by tlsconf's ssl.principal.mapping.rules), otherwise it is ANONYMOUS.
// The default authorizer allows everything (AllowAll); package acl is the
// Kafka ACL authorizer (authorizer.class.name). SASL fills in the
// session's principal without touching the handlers.
package auth

import (
	"context"
	"net"
)

// Principal is an authenticated identity, as Kafka's KafkaPrincipal:
// "User:alice".
type Principal struct {
	Type string // "User"
	Name string
}

// PrincipalUser is the principal type of every user, Kafka's
// KafkaPrincipal.USER_TYPE.
const PrincipalUser = "User"

// Anonymous is the principal of an unauthenticated (PLAINTEXT) connection.
var Anonymous = Principal{Type: PrincipalUser, Name: "ANONYMOUS"}

// String is the principal as Kafka writes it in ACLs: "User:ANONYMOUS".
func (p Principal) String() string { return p.Type + ":" + p.Name }

// SecurityProtocol is a listener's security protocol, under Kafka's names.
type SecurityProtocol string

// Kafka's security protocols.
const (
	Plaintext     SecurityProtocol = "PLAINTEXT"
	SSL           SecurityProtocol = "SSL"
	SASLPlaintext SecurityProtocol = "SASL_PLAINTEXT"
	SASLSSL       SecurityProtocol = "SASL_SSL"
)

// SASLStage is where a connection is in SASL authentication.
type SASLStage int8

const (
	// SASLNone: no SaslHandshake yet (always, on a PLAINTEXT listener).
	SASLNone SASLStage = iota
	// SASLInProgress: a mechanism was chosen by SaslHandshake and
	// SaslAuthenticate exchanges are under way.
	SASLInProgress
	// SASLAuthenticated: the exchange succeeded; Session.Principal is the
	// authenticated user.
	SASLAuthenticated
)

// SASL is a connection's SASL state.
type SASL struct {
	Mechanism string // "PLAIN", "SCRAM-SHA-256", ...; empty before the handshake
	Stage     SASLStage
}

// Session is what the broker knows about one connection. It is created
// when the connection is accepted and owned by the connection's processor
// goroutine: only it writes the session (ApiVersions records the client
// software; authentication sets the principal and SASL state), and
// handlers, which run on that goroutine one request at a time, read it.
// An Authorizer must not keep it past Authorize.
type Session struct {
	Listener   string           // listener name, e.g. "PLAINTEXT"
	Protocol   SecurityProtocol // the listener's security protocol
	RemoteAddr net.Addr         // the client's address
	// ClientSoftwareName and ClientSoftwareVersion are what the client
	// sent in ApiVersions v3+ (KIP-511); empty before that or for older
	// clients.
	ClientSoftwareName, ClientSoftwareVersion string
	Principal                                 Principal
	SASL                                      SASL
}

// NewSession returns the session of a connection just accepted on a
// listener: anonymous, SASL not started.
func NewSession(listener string, protocol SecurityProtocol, remote net.Addr) *Session {
	return &Session{Listener: listener, Protocol: protocol, RemoteAddr: remote, Principal: Anonymous}
}

// Host is the client's IP address as ACLs name hosts ("10.0.0.7"), or
// the whole remote address when it has no host part.
func (s *Session) Host() string {
	if s.RemoteAddr == nil {
		return ""
	}
	addr := s.RemoteAddr.String()
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// Operation is an ACL operation, with Kafka's AclOperation codes.
type Operation int8

// Kafka's ACL operations.
const (
	OpUnknown         Operation = 0
	OpAny             Operation = 1
	OpAll             Operation = 2
	OpRead            Operation = 3
	OpWrite           Operation = 4
	OpCreate          Operation = 5
	OpDelete          Operation = 6
	OpAlter           Operation = 7
	OpDescribe        Operation = 8
	OpClusterAction   Operation = 9
	OpDescribeConfigs Operation = 10
	OpAlterConfigs    Operation = 11
	OpIdempotentWrite Operation = 12
	OpCreateTokens    Operation = 13
	OpDescribeTokens  Operation = 14
)

var opNames = [...]string{"UNKNOWN", "ANY", "ALL", "READ", "WRITE", "CREATE", "DELETE", "ALTER", "DESCRIBE",
	"CLUSTER_ACTION", "DESCRIBE_CONFIGS", "ALTER_CONFIGS", "IDEMPOTENT_WRITE", "CREATE_TOKENS", "DESCRIBE_TOKENS"}

func (o Operation) String() string {
	if o >= 0 && int(o) < len(opNames) {
		return opNames[o]
	}
	return "UNKNOWN"
}

// ResourceType is the kind of resource an ACL guards, with Kafka's codes.
type ResourceType int8

// Kafka's resource types.
const (
	ResourceUnknown         ResourceType = 0
	ResourceAny             ResourceType = 1
	ResourceTopic           ResourceType = 2
	ResourceGroup           ResourceType = 3
	ResourceCluster         ResourceType = 4
	ResourceTransactionalID ResourceType = 5
	ResourceDelegationToken ResourceType = 6
	ResourceUser            ResourceType = 7
)

var resourceNames = [...]string{"UNKNOWN", "ANY", "TOPIC", "GROUP", "CLUSTER", "TRANSACTIONAL_ID", "DELEGATION_TOKEN", "USER"}

func (r ResourceType) String() string {
	if r >= 0 && int(r) < len(resourceNames) {
		return resourceNames[r]
	}
	return "UNKNOWN"
}

// PatternType says how a resource name matches, with Kafka's codes
// (KIP-290). Requests name resources literally; ACLs may be PREFIXED.
type PatternType int8

// Kafka's pattern types.
const (
	PatternUnknown  PatternType = 0
	PatternAny      PatternType = 1
	PatternMatch    PatternType = 2
	PatternLiteral  PatternType = 3
	PatternPrefixed PatternType = 4
)

// ClusterName is the name of the one CLUSTER resource, as in Kafka.
const ClusterName = "kafka-cluster"

// Resource is a resource pattern: Kafka's ResourcePattern.
type Resource struct {
	Type    ResourceType
	Name    string
	Pattern PatternType
}

// Topic, Group, TransactionalID and Cluster are the literal resources
// requests name.
func Topic(name string) Resource { return Resource{ResourceTopic, name, PatternLiteral} }

// Group is a consumer group resource.
func Group(id string) Resource { return Resource{ResourceGroup, id, PatternLiteral} }

// TransactionalID is a transactional producer's resource.
func TransactionalID(id string) Resource {
	return Resource{ResourceTransactionalID, id, PatternLiteral}
}

// Cluster is the cluster resource.
func Cluster() Resource { return Resource{ResourceCluster, ClusterName, PatternLiteral} }

// Action is one operation on one resource that a request needs, Kafka's
// Action (the reference count and audit flags are left for the ACL
// implementation to add).
type Action struct {
	Op       Operation
	Resource Resource
}

// Result is an authorization decision, Kafka's AuthorizationResult.
type Result int8

// Decisions.
const (
	Denied  Result = 0
	Allowed Result = 1
)

// Request is the request an authorization is for: Kafka's
// AuthorizableRequestContext (listener, protocol, principal and client
// address are the session's).
type Request struct {
	Session       *Session
	APIKey        int16
	APIVersion    int16
	ClientID      string
	CorrelationID int32
}

// Authorizer decides whether a request's principal may perform actions.
// Implementations must be safe for concurrent use: every connection calls
// it.
type Authorizer interface {
	// Authorize returns one result per action, in order. A result missing
	// from a short slice counts as Denied.
	Authorize(ctx context.Context, req *Request, actions []Action) []Result
	// AuthorizeByResourceType answers whether op is allowed on at least
	// one resource of the type (Kafka's authorizeByResourceType), which
	// InitProducerId uses: WRITE on any topic implies IDEMPOTENT_WRITE
	// (KIP-679).
	AuthorizeByResourceType(ctx context.Context, req *Request, op Operation, rt ResourceType) Result
}

// AllowAll allows every action: the authorizer of a broker without ACLs.
type AllowAll struct{}

// Authorize allows every action.
func (AllowAll) Authorize(_ context.Context, _ *Request, actions []Action) []Result {
	out := make([]Result, len(actions))
	for i := range out {
		out[i] = Allowed
	}
	return out
}

// AuthorizeByResourceType allows.
func (AllowAll) AuthorizeByResourceType(context.Context, *Request, Operation, ResourceType) Result {
	return Allowed
}
