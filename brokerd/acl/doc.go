// Package acl is Kafka's ACL authorizer: the semantics of Kafka's
// StandardAuthorizer (org.apache.kafka.metadata.authorizer) over ACL
// bindings kept in the cluster's metadata store, and the bindings'
// create/describe/delete behind CreateAcls, DescribeAcls and DeleteAcls.
//
// # Semantics
//
// A binding is (resource pattern, principal, host, operation, ALLOW or
// DENY). For an action (operation on a literally named resource) by a
// principal from a host:
//
//  1. a super user (super.users) is allowed everything;
//  2. the bindings that match the resource are those of its type whose
//     pattern is LITERAL with the same name, LITERAL "*", or PREFIXED
//     with a prefix of the name;
//  3. among them, those whose principal is the request's or "User:*"
//     (the wildcard of the principal's type), whose host is the client's
//     address or "*", and whose operation is the action's or ALL count;
//     an ALLOW binding also counts when its operation implies the
//     action's (READ, WRITE, DELETE, ALTER imply DESCRIBE; ALTER_CONFIGS
//     implies DESCRIBE_CONFIGS), a DENY one does not;
//  4. any counting DENY denies (DENY wins); else any counting ALLOW
//     allows; else, when no binding at all matched the resource in step
//     2, allow.everyone.if.no.acl.found decides (default false: denied);
//     else denied.
//
// AuthorizeByResourceType is Kafka's default Authorizer method, used
// where Kafka asks whether an operation is allowed on any resource of a
// type (InitProducerId without a transactional id: IDEMPOTENT_WRITE on
// the cluster or WRITE on some topic).
//
// # Invariants
//
//   - Decisions read an immutable index (index.go) through one atomic
//     pointer: a change builds a whole new index and swaps it, so a
//     decision sees one version of the bindings, and deciding takes no
//     lock and allocates nothing (map lookups by resource name and by
//     prefix length; the client's host is formatted only when a binding
//     names a host).
//   - The store is the source of truth; the index is a cache of the
//     bindings read at a change counter (Store.ACLVersion). Every ACL
//     write moves the counter (and, in a cluster, the metadata version
//     brokers poll), so Refresh after a change, or on the next metadata
//     change elsewhere, brings the index up to date.
//   - An Authorizer whose first Load has not succeeded denies everything
//     but super users: a broker never serves with ACLs it could not read.
package acl
