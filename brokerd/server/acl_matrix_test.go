package server_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/kafki/kafki/brokerd/acl"
	"github.com/kafki/kafki/brokerd/auth"
	"github.com/kafki/kafki/brokerd/broker"
	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/internal/testbroker"
	"github.com/kafki/kafki/brokerd/meta"
)

// The ACL matrix: for each resource type and the main APIs, the answer
// of a real client (franz-go) to a broker with the ACL authorizer
// (authorizer.class.name=acl), without the ACL the API needs, with it
// (created through CreateAcls), and without it again (DeleteAcls).
//
// On PLAINTEXT every connection is User:ANONYMOUS, so the principal under
// test is also the one that manages ACLs (ALLOW ALTER on the cluster,
// bootstrapped into the store before the broker starts, as an operator
// would with super.users). TestACLMatrixSCRAM runs the same matrix for
// User:alice, logged in with SCRAM-SHA-512 over SASL_PLAINTEXT, while
// User:ANONYMOUS on the PLAINTEXT listener manages the ACLs: principals
// from SASL feed the authorizer exactly like PLAINTEXT's (and mTLS's,
// tested in brokerd/broker).

const anonymous = "User:ANONYMOUS"

// clientFor returns a client of the broker at addr authenticated as
// principal: User:ANONYMOUS on a PLAINTEXT listener, or, with lg, User:<lg.user>
// logged in with SCRAM-SHA-512 on the SASL_PLAINTEXT listener lg.addr.
func clientFor(t *testing.T, addr, principal string, lg *scramLogin, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{kgo.DisableIdempotentWrite(), kgo.RecordDeliveryTimeout(5 * time.Second),
		kgo.RequestRetries(0), kgo.RetryTimeout(time.Second)}
	switch {
	case lg != nil && principal == "User:"+lg.user:
		addr = lg.addr
		base = append(base, kgo.SASL(scram.Auth{User: lg.user, Pass: lg.pass}.AsSha512Mechanism()))
	case principal != anonymous:
		t.Fatalf("no way to connect as %s (PLAINTEXT connections are %s)", principal, anonymous)
	}
	return newClient(t, addr, append(base, opts...)...)
}

// scramLogin is a SCRAM user of the broker and its SASL_PLAINTEXT
// listener.
type scramLogin struct{ addr, user, pass string }

// startACLBroker starts a single broker with ACLs on, its store holding
// bootstrap first.
func startACLBroker(t *testing.T, configure func(*config.Config), bootstrap ...acl.Binding) *broker.Broker {
	t.Helper()
	dir := t.TempDir()
	st, err := meta.OpenEmbedded(filepath.Join(dir, "__meta"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutACLs(context.Background(), bootstrap); err != nil {
		t.Fatal(err)
	}
	st.Close()
	return testbroker.StartBroker(t, testbroker.WithDataDir(dir), testbroker.WithConfig(func(c *config.Config) {
		groupTestConfig(c)
		c.AuthorizerClassName, c.AutoCreateTopics = config.AuthorizerStandardClass, false
		if configure != nil {
			configure(c)
		}
	}))
}

// aclAdmin is the binding that lets principal manage ACLs.
func aclAdmin(principal string) acl.Binding {
	return acl.Binding{Resource: auth.Cluster(), Principal: principal, Host: "*", Op: auth.OpAlter, Permission: acl.PermAllow}
}

// aclEnv is one broker, the principal under test and its clients.
type aclEnv struct {
	t   *testing.T
	b   *broker.Broker
	who string
	adm *kadm.Client // the ACL manager's
	// login is who's SCRAM login; nil when who is User:ANONYMOUS.
	login *scramLogin
}

func newACLEnv(t *testing.T, who string) *aclEnv {
	b := startACLBroker(t, nil, aclAdmin(anonymous))
	return &aclEnv{t: t, b: b, who: who, adm: kadm.NewClient(clientFor(t, b.Addr(), anonymous, nil))}
}

// newSCRAMACLEnv is newACLEnv for User:<user>, a SCRAM user created (by
// the ACL manager, User:ANONYMOUS on PLAINTEXT) before the test, who
// logs in on the broker's SASL_PLAINTEXT listener.
func newSCRAMACLEnv(t *testing.T, user string) *aclEnv {
	b := startACLBroker(t, func(c *config.Config) {
		c.Listen = config.Default().Listen // listeners replaces it
		c.Listeners = "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0"
		c.FailedAuthDelay = time.Millisecond
	}, aclAdmin(anonymous))
	lg := &scramLogin{addr: b.ListenerAddr("SASL_PLAINTEXT"), user: user, pass: user + "-Pass-5d1f"}
	adm := kadm.NewClient(clientFor(t, b.ListenerAddr("PLAINTEXT"), anonymous, nil))
	res, err := adm.AlterUserSCRAMs(ctxT(t), nil, []kadm.UpsertSCRAM{{User: user, Mechanism: kadm.ScramSha512, Iterations: 4096, Password: lg.pass}})
	if err != nil || res.Error() != nil {
		t.Fatalf("create SCRAM user %s: %v %v", user, err, res.Error())
	}
	return &aclEnv{t: t, b: b, who: "User:" + user, adm: adm, login: lg}
}

// client is a fresh client of the principal under test (fresh, so no
// metadata cached under other ACLs).
func (e *aclEnv) client() *kgo.Client { return clientFor(e.t, e.b.Addr(), e.who, e.login) }

// request sends req straight to the broker (node 1), as the principal.
func (e *aclEnv) request(req kmsg.Request) kmsg.Response {
	e.t.Helper()
	resp, err := e.client().Broker(1).Request(ctxT(e.t), req)
	if err != nil {
		e.t.Fatalf("%s: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp
}

// grant creates the bindings through CreateAcls and fails on any error.
func (e *aclEnv) grant(bs ...*kadm.ACLBuilder) {
	e.t.Helper()
	for _, b := range bs {
		res, err := e.adm.CreateACLs(ctxT(e.t), b)
		if err != nil {
			e.t.Fatalf("create ACLs: %v", err)
		}
		for _, r := range res {
			if r.Err != nil {
				e.t.Fatalf("create ACL %+v: %v %s", r, r.Err, r.ErrMessage)
			}
		}
	}
}

// revoke deletes the bindings through DeleteAcls; each must delete some.
func (e *aclEnv) revoke(bs ...*kadm.ACLBuilder) {
	e.t.Helper()
	for _, b := range bs {
		res, err := e.adm.DeleteACLs(ctxT(e.t), b)
		if err != nil {
			e.t.Fatalf("delete ACLs: %v", err)
		}
		for _, r := range res {
			if r.Err != nil || len(r.Deleted) == 0 {
				e.t.Fatalf("delete ACL %+v: %v %s, deleted %d", r, r.Err, r.ErrMessage, len(r.Deleted))
			}
		}
	}
}

// with runs fn with the bindings granted.
func (e *aclEnv) with(fn func(), bs ...*kadm.ACLBuilder) {
	e.t.Helper()
	e.grant(bs...)
	fn()
	e.revoke(bs...)
}

// createTopics creates topics as the principal, under a CREATE granted
// for the purpose.
func (e *aclEnv) createTopics(names ...string) {
	e.t.Helper()
	e.with(func() {
		for _, n := range names {
			createTopic(e.t, e.client(), n, 1, nil)
		}
	}, topicACL(e.who, kadm.ACLPatternLiteral, names, kadm.OpCreate))
}

// produce writes one record as the principal and returns the error.
func (e *aclEnv) produce(topic string) error {
	return e.client().ProduceSync(ctxT(e.t), &kgo.Record{Topic: topic, Value: []byte("v")}).FirstErr()
}

func topicACL(who string, pattern kadm.ACLPattern, names []string, ops ...kadm.ACLOperation) *kadm.ACLBuilder {
	return kadm.NewACLs().Allow(who).AllowHosts("*").Topics(names...).ResourcePatternType(pattern).Operations(ops...)
}

func groupACL(who, group string, ops ...kadm.ACLOperation) *kadm.ACLBuilder {
	return kadm.NewACLs().Allow(who).AllowHosts("*").Groups(group).ResourcePatternType(kadm.ACLPatternLiteral).Operations(ops...)
}

// codeOf is the Kafka error code of err (0 for nil, -1 for an error that
// carries none).
func codeOf(err error) int16 {
	var ke *kerr.Error
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ke):
		return ke.Code
	}
	return -1
}

func TestACLMatrix(t *testing.T) { aclMatrix(t, newACLEnv(t, anonymous)) }

// The same matrix for a SCRAM principal: every ALLOW is granted to
// User:alice and every answer comes to her SASL connections, so a login
// whose principal did not reach the authorizer (or reached it as
// User:ANONYMOUS, who holds only ALTER on the cluster) fails the test.
func TestACLMatrixSCRAM(t *testing.T) { aclMatrix(t, newSCRAMACLEnv(t, "alice")) }

func aclMatrix(t *testing.T, e *aclEnv) {
	who := e.who
	e.createTopics("m-produce", "m-fetch", "m-meta", "m-delete", "m-configs", "m-commit")
	e.with(func() {
		if err := e.produce("m-fetch"); err != nil {
			t.Fatalf("seed m-fetch: %v", err)
		}
	}, topicACL(who, kadm.ACLPatternLiteral, []string{"m-fetch"}, kadm.OpWrite))

	fetch := func(topic string) int16 {
		tp := e.b.Topics().Topic(topic)
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID, req.ReplicaState.ID, req.MaxBytes = -1, -1, 1<<20
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = topic, tp.ID
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = 1<<20, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := e.request(req).(*kmsg.FetchResponse)
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode == 0 && len(p.RecordBatches) == 0 {
			t.Errorf("fetch of %s: no error and no records", topic)
		}
		return p.ErrorCode
	}
	metadataNamed := func(topic string) int16 {
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
		return e.request(req).(*kmsg.MetadataResponse).Topics[0].ErrorCode
	}
	listed := func(topic string) bool {
		req := kmsg.NewPtrMetadataRequest() // nil topics: all
		for _, rt := range e.request(req).(*kmsg.MetadataResponse).Topics {
			if rt.Topic != nil && *rt.Topic == topic {
				return true
			}
		}
		return false
	}

	cases := []struct {
		name   string
		acls   []*kadm.ACLBuilder
		do     func() int16
		denied *kerr.Error
		okCode int16 // the answer with the ACL (0 unless the API answers something else)
	}{
		{
			name: "Topic WRITE: Produce",
			acls: []*kadm.ACLBuilder{topicACL(who, kadm.ACLPatternLiteral, []string{"m-produce"}, kadm.OpWrite)},
			do:   func() int16 { return codeOf(e.produce("m-produce")) }, denied: kerr.TopicAuthorizationFailed,
		},
		{
			name: "Topic READ: Fetch",
			acls: []*kadm.ACLBuilder{topicACL(who, kadm.ACLPatternLiteral, []string{"m-fetch"}, kadm.OpRead)},
			do:   func() int16 { return fetch("m-fetch") }, denied: kerr.TopicAuthorizationFailed,
		},
		{
			name: "Topic PREFIXED READ: Fetch",
			acls: []*kadm.ACLBuilder{topicACL(who, kadm.ACLPatternPrefixed, []string{"m-fe"}, kadm.OpRead)},
			do:   func() int16 { return fetch("m-fetch") }, denied: kerr.TopicAuthorizationFailed,
		},
		{
			name: "Topic DESCRIBE: Metadata of a named topic",
			acls: []*kadm.ACLBuilder{topicACL(who, kadm.ACLPatternLiteral, []string{"m-meta"}, kadm.OpDescribe)},
			do:   func() int16 { return metadataNamed("m-meta") }, denied: kerr.TopicAuthorizationFailed,
		},
		{
			name: "Topic DESCRIBE: a named unknown topic is not disclosed",
			acls: []*kadm.ACLBuilder{topicACL(who, kadm.ACLPatternLiteral, []string{"m-nope"}, kadm.OpDescribe)},
			do:   func() int16 { return metadataNamed("m-nope") }, denied: kerr.TopicAuthorizationFailed,
			okCode: kerr.UnknownTopicOrPartition.Code,
		},
		{
			name: "Topic DESCRIBE: Metadata of all topics hides it",
			acls: []*kadm.ACLBuilder{topicACL(who, kadm.ACLPatternLiteral, []string{"m-meta"}, kadm.OpRead)}, // READ implies DESCRIBE
			do: func() int16 {
				if listed("m-meta") {
					return 0
				}
				return kerr.TopicAuthorizationFailed.Code
			},
			denied: kerr.TopicAuthorizationFailed,
		},
		{
			name: "Topic CREATE: CreateTopics",
			acls: []*kadm.ACLBuilder{topicACL(who, kadm.ACLPatternLiteral, []string{"m-created"}, kadm.OpCreate)},
			do: func() int16 {
				req := kmsg.NewPtrCreateTopicsRequest()
				rt := kmsg.NewCreateTopicsRequestTopic()
				rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "m-created", 1, 1
				req.Topics, req.TimeoutMillis = append(req.Topics, rt), 10000
				code := e.request(req).(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode
				if code == 0 { // delete it again, so the next run of do creates
					e.with(func() {
						if _, err := kadm.NewClient(e.client()).DeleteTopic(ctxT(t), "m-created"); err != nil {
							t.Fatal(err)
						}
					}, topicACL(who, kadm.ACLPatternLiteral, []string{"m-created"}, kadm.OpDelete))
				}
				return code
			},
			denied: kerr.TopicAuthorizationFailed,
		},
		{
			name: "Topic DELETE: DeleteTopics",
			acls: []*kadm.ACLBuilder{topicACL(who, kadm.ACLPatternLiteral, []string{"m-delete"}, kadm.OpDelete)},
			do: func() int16 {
				req := kmsg.NewPtrDeleteTopicsRequest()
				rt := kmsg.NewDeleteTopicsRequestTopic()
				rt.Topic = kmsg.StringPtr("m-delete")
				req.Topics, req.TimeoutMillis = append(req.Topics, rt), 10000
				return e.request(req).(*kmsg.DeleteTopicsResponse).Topics[0].ErrorCode
			},
			denied: kerr.TopicAuthorizationFailed,
			// The second denial finds the topic deleted; still denied first.
		},
		{
			name: "Topic DESCRIBE_CONFIGS: DescribeConfigs",
			acls: []*kadm.ACLBuilder{topicACL(who, kadm.ACLPatternLiteral, []string{"m-configs"}, kadm.OpAlterConfigs)}, // implies DESCRIBE_CONFIGS
			do: func() int16 {
				req := kmsg.NewPtrDescribeConfigsRequest()
				rr := kmsg.NewDescribeConfigsRequestResource()
				rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "m-configs"
				req.Resources = append(req.Resources, rr)
				return e.request(req).(*kmsg.DescribeConfigsResponse).Resources[0].ErrorCode
			},
			denied: kerr.TopicAuthorizationFailed,
		},
		{
			name: "Group READ: JoinGroup",
			acls: []*kadm.ACLBuilder{groupACL(who, "g-join", kadm.OpRead)},
			do: func() int16 {
				req := kmsg.NewPtrJoinGroupRequest()
				req.Group, req.ProtocolType, req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = "g-join", "consumer", 6000, 6000
				p := kmsg.NewJoinGroupRequestProtocol()
				p.Name, p.Metadata = "range", []byte{0, 0, 0, 0, 0, 0, 0, 0}
				req.Protocols = append(req.Protocols, p)
				return e.request(req).(*kmsg.JoinGroupResponse).ErrorCode
			},
			denied: kerr.GroupAuthorizationFailed,
			okCode: kerr.MemberIDRequired.Code, // a first join is asked to come back with its member id
		},
		{
			name: "Group READ and Topic READ: OffsetCommit",
			acls: []*kadm.ACLBuilder{groupACL(who, "g-commit", kadm.OpRead), topicACL(who, kadm.ACLPatternLiteral, []string{"m-commit"}, kadm.OpRead)},
			do: func() int16 {
				req := kmsg.NewPtrOffsetCommitRequest()
				req.Group, req.Generation = "g-commit", -1
				rt := kmsg.NewOffsetCommitRequestTopic()
				rt.Topic = "m-commit"
				rp := kmsg.NewOffsetCommitRequestTopicPartition()
				rp.Offset = 0
				rt.Partitions = append(rt.Partitions, rp)
				req.Topics = append(req.Topics, rt)
				return e.request(req).(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode
			},
			denied: kerr.GroupAuthorizationFailed,
		},
		{
			name: "TransactionalId DESCRIBE: FindCoordinator",
			acls: []*kadm.ACLBuilder{kadm.NewACLs().Allow(who).AllowHosts("*").TransactionalIDs("tx-").ResourcePatternType(kadm.ACLPatternPrefixed).Operations(kadm.OpWrite)},
			do: func() int16 {
				req := kmsg.NewPtrFindCoordinatorRequest()
				req.CoordinatorType, req.CoordinatorKeys = 1, []string{"tx-1"}
				return e.request(req).(*kmsg.FindCoordinatorResponse).Coordinators[0].ErrorCode
			},
			denied: kerr.TransactionalIDAuthorizationFailed,
		},
		{
			name: "Cluster CLUSTER_ACTION: WriteTxnMarkers",
			acls: []*kadm.ACLBuilder{kadm.NewACLs().Allow(who).AllowHosts("*").Clusters().Operations(kadm.OpClusterAction)},
			do: func() int16 {
				req := kmsg.NewPtrWriteTxnMarkersRequest()
				m := kmsg.NewWriteTxnMarkersRequestMarker()
				m.ProducerID, m.ProducerEpoch = 1, 0
				mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
				mt.Topic, mt.Partitions = "m-markers-none", []int32{0}
				m.Topics = append(m.Topics, mt)
				req.Markers = append(req.Markers, m)
				return e.request(req).(*kmsg.WriteTxnMarkersResponse).Markers[0].Topics[0].Partitions[0].ErrorCode
			},
			denied: kerr.ClusterAuthorizationFailed,
			okCode: kerr.UnknownTopicOrPartition.Code, // allowed, and then the partition is looked for
		},
		{
			name: "Cluster IDEMPOTENT_WRITE: InitProducerId",
			acls: []*kadm.ACLBuilder{kadm.NewACLs().Allow(who).AllowHosts("*").Clusters().Operations(kadm.OpIdempotentWrite)},
			do: func() int16 {
				req := kmsg.NewPtrInitProducerIDRequest()
				req.ProducerID, req.ProducerEpoch = -1, -1
				return e.request(req).(*kmsg.InitProducerIDResponse).ErrorCode
			},
			denied: kerr.ClusterAuthorizationFailed,
		},
		{
			name: "Topic WRITE on any topic: InitProducerId (KIP-679)",
			acls: []*kadm.ACLBuilder{topicACL(who, kadm.ACLPatternPrefixed, []string{"anything-"}, kadm.OpWrite)},
			do: func() int16 {
				req := kmsg.NewPtrInitProducerIDRequest()
				req.ProducerID, req.ProducerEpoch = -1, -1
				return e.request(req).(*kmsg.InitProducerIDResponse).ErrorCode
			},
			denied: kerr.ClusterAuthorizationFailed,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.do(); got != c.denied.Code {
				t.Fatalf("without the ACL: code %d (%v), want %s", got, kerr.ErrorForCode(got), c.denied.Message)
			}
			e.grant(c.acls...)
			if got := c.do(); got != c.okCode {
				t.Fatalf("with the ACL: code %d (%v), want %d", got, kerr.ErrorForCode(got), c.okCode)
			}
			e.revoke(c.acls...)
			if c.name == "Topic DELETE: DeleteTopics" {
				return // the topic is gone; asked again it would still be denied, but about nothing
			}
			if got := c.do(); got != c.denied.Code {
				t.Fatalf("after DeleteAcls: code %d (%v), want %s", got, kerr.ErrorForCode(got), c.denied.Message)
			}
		})
	}

	t.Run("TransactionalId WRITE: InitProducerId", func(t *testing.T) {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionalID, req.ProducerID, req.ProducerEpoch = kmsg.StringPtr("tx-1"), -1, -1
		if got := e.request(req).(*kmsg.InitProducerIDResponse).ErrorCode; got != kerr.TransactionalIDAuthorizationFailed.Code {
			t.Fatalf("code %d, want TRANSACTIONAL_ID_AUTHORIZATION_FAILED", got)
		}
	})
}

// DENY wins over ALLOW, PREFIXED over literal, for real clients; and
// KIP-430's authorized operations report what the ACLs allow.
func TestACLDenyWinsAndAuthorizedOperations(t *testing.T) {
	e := newACLEnv(t, anonymous)
	e.createTopics("p-open", "p-secret")
	e.grant(topicACL(e.who, kadm.ACLPatternPrefixed, []string{"p-"}, kadm.OpRead, kadm.OpWrite),
		kadm.NewACLs().Deny(e.who).DenyHosts("*").Topics("p-secret").ResourcePatternType(kadm.ACLPatternLiteral).Operations(kadm.OpWrite))
	if err := e.produce("p-open"); err != nil {
		t.Fatalf("produce to p-open: %v", err)
	}
	if err := e.produce("p-secret"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("produce to p-secret: %v, want TOPIC_AUTHORIZATION_FAILED (DENY wins)", err)
	}

	req := kmsg.NewPtrMetadataRequest()
	req.IncludeTopicAuthorizedOperations = true
	ops := map[string]int32{}
	for _, rt := range e.request(req).(*kmsg.MetadataResponse).Topics {
		ops[*rt.Topic] = rt.AuthorizedOperations
	}
	bits := func(os ...auth.Operation) int32 {
		var b int32
		for _, o := range os {
			b |= 1 << o
		}
		return b
	}
	if want := bits(auth.OpRead, auth.OpWrite, auth.OpDescribe); ops["p-open"] != want {
		t.Errorf("p-open authorized operations %b, want %b", ops["p-open"], want)
	}
	if want := bits(auth.OpRead, auth.OpDescribe); ops["p-secret"] != want {
		t.Errorf("p-secret authorized operations %b, want %b", ops["p-secret"], want)
	}
	e.grant(groupACL(e.who, "g-ops", kadm.OpRead))
	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Groups, dg.IncludeAuthorizedOperations = []string{"g-ops"}, true
	if g := e.request(dg).(*kmsg.DescribeGroupsResponse).Groups[0]; g.ErrorCode != 0 || g.AuthorizedOperations != bits(auth.OpRead, auth.OpDescribe) {
		t.Errorf("group authorized operations %b (code %d), want %b", g.AuthorizedOperations, g.ErrorCode, bits(auth.OpRead, auth.OpDescribe))
	}
	dc := kmsg.NewPtrDescribeClusterRequest()
	dc.IncludeClusterAuthorizedOperations = true
	if got, want := e.request(dc).(*kmsg.DescribeClusterResponse).ClusterAuthorizedOperations, bits(auth.OpAlter, auth.OpDescribe); got != want {
		t.Errorf("cluster authorized operations %b, want %b (ALTER implies DESCRIBE)", got, want)
	}
}

// CreateAcls, DescribeAcls and DeleteAcls answer as Kafka: ALTER on the
// cluster to change, per-creation INVALID_REQUEST, MATCH filters, and
// CLUSTER_AUTHORIZATION_FAILED once the principal lost ALTER.
func TestACLAPIs(t *testing.T) {
	e := newACLEnv(t, anonymous)
	ctx := ctxT(t)
	create := kmsg.NewPtrCreateACLsRequest()
	for _, c := range []struct {
		rt        kmsg.ACLResourceType
		name      string
		pt        kmsg.ACLResourcePatternType
		principal string
	}{
		{kmsg.ACLResourceTypeTopic, "orders", kmsg.ACLResourcePatternTypeLiteral, "User:alice"},
		{kmsg.ACLResourceTypeTopic, "ord", kmsg.ACLResourcePatternTypePrefixed, "User:alice"},
		{kmsg.ACLResourceTypeTopic, "*", kmsg.ACLResourcePatternTypeLiteral, "User:bob"},
		{kmsg.ACLResourceTypeTopic, "bad", kmsg.ACLResourcePatternTypeMatch, "User:alice"}, // MATCH is for filters
		{kmsg.ACLResourceTypeCluster, "other", kmsg.ACLResourcePatternTypeLiteral, "User:alice"},
		{kmsg.ACLResourceTypeTopic, "x", kmsg.ACLResourcePatternTypeLiteral, "alice"}, // no principal type
	} {
		cr := kmsg.NewCreateACLsRequestCreation()
		cr.ResourceType, cr.ResourceName, cr.ResourcePatternType = c.rt, c.name, c.pt
		cr.Principal, cr.Host, cr.Operation, cr.PermissionType = c.principal, "*", kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow
		create.Creations = append(create.Creations, cr)
	}
	var codes []int16
	for _, r := range e.request(create).(*kmsg.CreateACLsResponse).Results {
		codes = append(codes, r.ErrorCode)
		if r.ErrorCode != 0 && (r.ErrorMessage == nil || *r.ErrorMessage == "") {
			t.Errorf("error %d without a message", r.ErrorCode)
		}
	}
	inv := kerr.InvalidRequest.Code
	if want := []int16{0, 0, 0, inv, inv, inv}; !slices.Equal(codes, want) {
		t.Fatalf("creation codes %v, want %v", codes, want)
	}

	// MATCH: every binding that applies to a topic named "orders".
	describe := func(rt kmsg.ACLResourceType, name *string, pt kmsg.ACLResourcePatternType) []kmsg.DescribeACLsResponseResource {
		dr := kmsg.NewPtrDescribeACLsRequest()
		dr.ResourceType, dr.ResourceName, dr.ResourcePatternType = rt, name, pt
		dr.Operation, dr.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
		resp := e.request(dr).(*kmsg.DescribeACLsResponse)
		if resp.ErrorCode != 0 {
			t.Fatalf("describe: code %d", resp.ErrorCode)
		}
		return resp.Resources
	}
	names := func(rs []kmsg.DescribeACLsResponseResource) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.ResourcePatternType.String()+":"+r.ResourceName)
		}
		return out
	}
	got := names(describe(kmsg.ACLResourceTypeTopic, kmsg.StringPtr("orders"), kmsg.ACLResourcePatternTypeMatch))
	if want := []string{"LITERAL:*", "LITERAL:orders", "PREFIXED:ord"}; !slices.Equal(got, want) {
		t.Fatalf("MATCH orders described %v, want %v", got, want)
	}

	// Delete the PREFIXED one by an exact filter; the others stay.
	del := kmsg.NewPtrDeleteACLsRequest()
	f := kmsg.NewDeleteACLsRequestFilter()
	f.ResourceType, f.ResourceName, f.ResourcePatternType = kmsg.ACLResourceTypeTopic, kmsg.StringPtr("ord"), kmsg.ACLResourcePatternTypePrefixed
	f.Operation, f.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	bad := f
	bad.PermissionType = kmsg.ACLPermissionTypeUnknown
	del.Filters = append(del.Filters, f, bad)
	dresp := e.request(del).(*kmsg.DeleteACLsResponse)
	if r := dresp.Results[0]; r.ErrorCode != 0 || len(r.MatchingACLs) != 1 || r.MatchingACLs[0].ResourceName != "ord" {
		t.Fatalf("delete: %+v", r)
	}
	if r := dresp.Results[1]; r.ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("delete with an UNKNOWN permission: %+v", r)
	}
	got = names(describe(kmsg.ACLResourceTypeAny, nil, kmsg.ACLResourcePatternTypeAny))
	if want := []string{"LITERAL:*", "LITERAL:orders", "LITERAL:kafka-cluster"}; !slices.Equal(got, want) {
		t.Fatalf("after delete: %v, want %v", got, want)
	}

	// Losing ALTER on the cluster: no more ACL changes, nor listing.
	e.revoke(kadm.NewACLs().Allow(anonymous).AllowHosts("*").Clusters().Operations(kadm.OpAlter))
	res, err := e.adm.CreateACLs(ctx, topicACL(anonymous, kadm.ACLPatternLiteral, []string{"t"}, kadm.OpRead))
	if err != nil || len(res) != 1 || !errors.Is(res[0].Err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("create without ALTER: %v %+v", err, res)
	}
	dr := kmsg.NewPtrDescribeACLsRequest()
	dr.ResourceType, dr.ResourcePatternType, dr.Operation, dr.PermissionType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny, kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	if got := e.request(dr).(*kmsg.DescribeACLsResponse).ErrorCode; got != kerr.ClusterAuthorizationFailed.Code {
		t.Fatalf("describe without DESCRIBE on the cluster: code %d", got)
	}
}

// Without an ACL authorizer the ACL APIs answer SECURITY_DISABLED, and a
// bad filter is INVALID_REQUEST rather than a crash.
func TestACLAPIsSecurityDisabled(t *testing.T) {
	addr := testbroker.Start(t)
	cl := newClient(t, addr)
	create := kmsg.NewPtrCreateACLsRequest()
	cr := kmsg.NewCreateACLsRequestCreation()
	cr.ResourceType, cr.ResourceName, cr.Principal, cr.Host = kmsg.ACLResourceTypeTopic, "t", anonymous, "*"
	cr.Operation, cr.PermissionType = kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow
	create.Creations = append(create.Creations, cr)
	resp, err := create.RequestWith(ctxT(t), cl)
	if err != nil || resp.Results[0].ErrorCode != kerr.SecurityDisabled.Code {
		t.Fatalf("create: %v %+v", err, resp)
	}
	dr := kmsg.NewPtrDescribeACLsRequest()
	dr.ResourceType, dr.ResourcePatternType, dr.Operation, dr.PermissionType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny, kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	if d, err := dr.RequestWith(ctxT(t), cl); err != nil || d.ErrorCode != kerr.SecurityDisabled.Code {
		t.Fatalf("describe: %v %+v", err, d)
	}

	e := newACLEnv(t, anonymous)
	dr.ResourceType = kmsg.ACLResourceTypeUnknown
	if got := e.request(dr).(*kmsg.DescribeACLsResponse).ErrorCode; got != kerr.InvalidRequest.Code {
		t.Fatalf("describe with an UNKNOWN filter: code %d, want INVALID_REQUEST", got)
	}
}

// With allow.everyone.if.no.acl.found, a resource no ACL names is open to
// everyone, and closes to all but those its first ACL names.
func TestACLAllowEveryoneIfNoACLFound(t *testing.T) {
	b := startACLBroker(t, func(c *config.Config) { c.AllowEveryoneIfNoACLFound = true })
	e := &aclEnv{t: t, b: b, who: anonymous, adm: kadm.NewClient(clientFor(t, b.Addr(), anonymous, nil))}
	createTopic(t, e.client(), "open", 1, nil) // CREATE: the cluster has no ACLs
	if err := e.produce("open"); err != nil {
		t.Fatalf("produce to a topic without ACLs: %v", err)
	}
	e.grant(topicACL("User:alice", kadm.ACLPatternLiteral, []string{"open"}, kadm.OpWrite))
	if err := e.produce("open"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("produce once the topic has an ACL for another principal: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
}
