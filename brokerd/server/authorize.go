package server

import (
	"context"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"
)

// Authorization, as Kafka's KafkaApis does it: a handler queues the
// actions its request needs (ask), asks the authorizer about all of them
// in one call (decide) and answers each part of the request by its
// verdict (allowed), with Kafka's error code for a denial
// (TOPIC_AUTHORIZATION_FAILED and so on, per the handler's file comment).
// With the allow-all authorizer ask queues nothing and returns -1, which
// allowed takes as allowed: the default costs neither a call nor an
// allocation.

// authzBatch is a request's authorization questions so far (actions) and
// the answers to the first len(results) of them, with room for a typical
// produce or fetch inline: with an authorizer that appends its results
// (acl.Authorizer), a request of up to batchInline topics allocates
// nothing for its authorization once the batch comes from authzBatches.
type authzBatch struct {
	actions []auth.Action
	results []auth.Result
	req     auth.Request

	actionsBuf [batchInline]auth.Action
	resultsBuf [batchInline]auth.Result
	idxBuf     [batchInline]int
}

const batchInline = 8

// authzBatches recycles the batches of produce and fetch requests
// (releaseAuthz), which are the ones on the hot path. It holds scratch
// space only, never a verdict that outlives its request.
var authzBatches = sync.Pool{New: func() any { return new(authzBatch) }}

// batch returns the request's batch, taking one from the pool first.
func (rc *reqCtx) batch() *authzBatch {
	if rc.authz == nil {
		b := authzBatches.Get().(*authzBatch)
		b.actions, b.results = b.actionsBuf[:0], b.resultsBuf[:0]
		rc.authz = b
	}
	return rc.authz
}

// releaseAuthz returns the request's batch to the pool; the handler must
// not ask about, nor look at, verdicts afterwards (deferred at the top of
// the produce and fetch handlers).
func (rc *reqCtx) releaseAuthz() {
	b := rc.authz
	if b == nil {
		return
	}
	rc.authz = nil
	clear(b.actionsBuf[:]) // drop the resource names and the session
	b.actions, b.results, b.req = nil, nil, auth.Request{}
	authzBatches.Put(b)
}

// authzIndexes returns room for n verdict indexes, inline for small n;
// valid until releaseAuthz.
func (rc *reqCtx) authzIndexes(n int) []int {
	b := rc.batch()
	if n <= cap(b.idxBuf) {
		return b.idxBuf[:n]
	}
	return make([]int, n)
}

// ask queues op on r for the next decide and returns its index for
// allowed; -1 when everything is allowed anyway.
func (rc *reqCtx) ask(op auth.Operation, r auth.Resource) int {
	if rc.s.allowAll {
		return -1
	}
	b := rc.batch()
	b.actions = append(b.actions, auth.Action{Op: op, Resource: r})
	return len(b.actions) - 1
}

// resultAppender is an authorizer that appends its verdicts to a slice
// the caller owns (acl.Authorizer.AppendAuthorize), so that deciding
// allocates nothing.
type resultAppender interface {
	AppendAuthorize(dst []auth.Result, req *auth.Request, actions []auth.Action) []auth.Result
}

// decide asks the authorizer about every action queued since the last
// decide, in one call.
func (rc *reqCtx) decide(ctx context.Context) {
	b := rc.authz
	if b == nil || len(b.results) == len(b.actions) {
		return
	}
	n := len(b.results)
	if ap, ok := rc.s.authz.(resultAppender); ok {
		b.results = ap.AppendAuthorize(b.results, rc.authRequest(), b.actions[n:])
		for len(b.results) < len(b.actions) { // a short answer denies the rest
			b.results = append(b.results, auth.Denied)
		}
		b.results = b.results[:len(b.actions)]
		return
	}
	res := rc.s.authz.Authorize(ctx, rc.authRequest(), b.actions[n:])
	for i := n; i < len(b.actions); i++ {
		r := auth.Denied
		if i-n < len(res) {
			r = res[i-n]
		}
		b.results = append(b.results, r)
	}
}

// allowed is the verdict on the action ask returned i for; decide must
// have run since.
func (rc *reqCtx) allowed(i int) bool {
	return i < 0 || (rc.authz != nil && i < len(rc.authz.results) && rc.authz.results[i] == auth.Allowed)
}

// authorize asks about one action at once.
func (rc *reqCtx) authorize(ctx context.Context, op auth.Operation, r auth.Resource) bool {
	i := rc.ask(op, r)
	rc.decide(ctx)
	return rc.allowed(i)
}

// authorizeByType reports whether op is allowed on some resource of type
// rt (auth.Authorizer.AuthorizeByResourceType).
func (rc *reqCtx) authorizeByType(ctx context.Context, op auth.Operation, rt auth.ResourceType) bool {
	if rc.s.allowAll {
		return true
	}
	return rc.s.authz.AuthorizeByResourceType(ctx, rc.authRequest(), op, rt) == auth.Allowed
}

// authRequest is the request the authorizer is asked about, kept in the
// batch so that asking allocates nothing.
func (rc *reqCtx) authRequest() *auth.Request {
	b := rc.batch()
	b.req = auth.Request{
		Session: rc.conn.session, APIKey: rc.hdr.key, APIVersion: rc.hdr.version,
		ClientID: rc.hdr.clientID, CorrelationID: rc.hdr.correlationID,
	}
	return &b.req
}

// askTopics queues op on each named topic and returns the indexes, one per
// name; nil when everything is allowed anyway (allowedAt takes nil).
func (rc *reqCtx) askTopics(op auth.Operation, names []string) []int {
	return rc.askEach(op, len(names), func(i int) auth.Resource { return auth.Topic(names[i]) })
}

// askConfigs queues op (DESCRIBE_CONFIGS or ALTER_CONFIGS) on each config
// resource: the cluster for a broker, the topic for a topic; other types
// are not asked (they are INVALID_REQUEST). Indexes as askTopics.
func (rc *reqCtx) askConfigs(op auth.Operation, n int, resource func(i int) (kmsg.ConfigResourceType, string)) []int {
	if rc.s.allowAll {
		return nil
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = -1
		switch rt, name := resource(i); rt {
		case kmsg.ConfigResourceTypeBroker, kmsg.ConfigResourceTypeBrokerLogger:
			idx[i] = rc.ask(op, auth.Cluster())
		case kmsg.ConfigResourceTypeTopic:
			idx[i] = rc.ask(op, auth.Topic(name))
		}
	}
	return idx
}

// configsDenied is Kafka's error for a config resource the principal may
// not describe or alter.
func configsDenied(rt kmsg.ConfigResourceType) int16 {
	if rt == kmsg.ConfigResourceTypeTopic {
		return kerr.TopicAuthorizationFailed.Code
	}
	return kerr.ClusterAuthorizationFailed.Code
}

// askEach queues op on resource(i) for each of n parts of a request and
// returns the indexes; nil when everything is allowed anyway.
func (rc *reqCtx) askEach(op auth.Operation, n int, resource func(i int) auth.Resource) []int {
	if rc.s.allowAll {
		return nil
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = rc.ask(op, resource(i))
	}
	return idx
}

// allowedAt is allowed(idx[i]), for indexes from askTopics.
func (rc *reqCtx) allowedAt(idx []int, i int) bool {
	return idx == nil || rc.allowed(idx[i])
}

// memberCode is what a group member's request (JoinGroup, SyncGroup,
// Heartbeat, LeaveGroup) gets before the coordinator sees it: READ on the
// group (GROUP_AUTHORIZATION_FAILED), then a coordinator to answer it
// (COORDINATOR_NOT_AVAILABLE); 0 when it may go on.
func (s *Server) memberCode(ctx context.Context, rc *reqCtx, group string) int16 {
	switch {
	case !rc.authorize(ctx, auth.OpRead, auth.Group(group)):
		return kerr.GroupAuthorizationFailed.Code
	case s.groups == nil:
		return kerr.CoordinatorNotAvailable.Code
	}
	return 0
}
