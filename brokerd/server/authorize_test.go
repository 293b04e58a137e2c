package server_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"
	"github.com/kafki/kafki/brokerd/broker"
	"github.com/kafki/kafki/brokerd/internal/testbroker"
)

// denier is a test authorizer: it denies the listed actions (and the
// listed operations by resource type), allows the rest, and records the
// sessions it was asked about.
type denier struct {
	mu       sync.Mutex
	deny     map[auth.Action]bool
	denyType map[[2]int8]bool
	sessions []auth.Session
	asked    []auth.Action
}

func newDenier() *denier {
	return &denier{deny: map[auth.Action]bool{}, denyType: map[[2]int8]bool{}}
}

func (d *denier) denyOp(op auth.Operation, r auth.Resource) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.deny[auth.Action{Op: op, Resource: r}] = true
}

func (d *denier) denyByType(op auth.Operation, rt auth.ResourceType) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.denyType[[2]int8{int8(op), int8(rt)}] = true
}

func (d *denier) Authorize(_ context.Context, req *auth.Request, actions []auth.Action) []auth.Result {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sessions = append(d.sessions, *req.Session)
	d.asked = append(d.asked, actions...)
	out := make([]auth.Result, len(actions))
	for i, a := range actions {
		out[i] = auth.Allowed
		if d.deny[a] {
			out[i] = auth.Denied
		}
	}
	return out
}

func (d *denier) AuthorizeByResourceType(_ context.Context, req *auth.Request, op auth.Operation, rt auth.ResourceType) auth.Result {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sessions = append(d.sessions, *req.Session)
	if d.denyType[[2]int8{int8(op), int8(rt)}] {
		return auth.Denied
	}
	return auth.Allowed
}

func (d *denier) recorded() []auth.Session {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]auth.Session(nil), d.sessions...)
}

func startAuthBroker(t *testing.T) (*broker.Broker, *denier) {
	t.Helper()
	d := newDenier()
	b := startGroupBroker(t, testbroker.WithBroker(broker.WithAuthorizer(d)))
	return b, d
}

// code fails the test unless got is want.
func code(t *testing.T, what string, got int16, want *kerr.Error) {
	t.Helper()
	if got != want.Code {
		t.Errorf("%s: error code %d (%v), want %s", what, got, kerr.ErrorForCode(got), want.Message)
	}
}

func topicIDs(t *testing.T, adm *kadm.Client, names ...string) map[string][16]byte {
	t.Helper()
	md, err := adm.Metadata(ctxT(t), names...)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][16]byte{}
	for _, td := range md.Topics {
		out[td.Topic] = td.ID
	}
	return out
}

func TestAuthorizeProduceFetch(t *testing.T) {
	b, d := startAuthBroker(t)
	cl := newClient(t, b.Addr())
	adm := kadm.NewClient(cl)
	createTopic(t, cl, "open", 1, nil)
	createTopic(t, cl, "secret", 1, nil)
	d.denyOp(auth.OpWrite, auth.Topic("secret"))
	d.denyOp(auth.OpRead, auth.Topic("secret"))

	ctx := ctxT(t)
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "open", Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatalf("produce to open: %v", err)
	}
	err := cl.ProduceSync(ctx, &kgo.Record{Topic: "secret", Value: []byte("v")}).FirstErr()
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("produce to secret: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}

	ids := topicIDs(t, adm, "open", "secret")
	fetch := func(replica int32) *kmsg.FetchResponse {
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID, req.ReplicaState.ID = replica, replica
		req.MaxBytes = 1 << 20
		for _, name := range []string{"open", "secret"} {
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic, rt.TopicID = name, ids[name]
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = 1<<20, -1
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
		}
		resp, err := req.RequestWith(ctxT(t), cl)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Topics) != 2 {
			t.Fatalf("fetch answered %d topics, want 2", len(resp.Topics))
		}
		return resp
	}
	resp := fetch(-1)
	code(t, "consumer fetch of open", resp.Topics[0].Partitions[0].ErrorCode, &kerr.Error{Code: 0, Message: "NONE"})
	if len(resp.Topics[0].Partitions[0].RecordBatches) == 0 {
		t.Error("consumer fetch of open returned no records")
	}
	code(t, "consumer fetch of secret", resp.Topics[1].Partitions[0].ErrorCode, kerr.TopicAuthorizationFailed)

	// A follower's fetch needs CLUSTER_ACTION: without it every partition
	// is refused, even the readable one.
	d.denyOp(auth.OpClusterAction, auth.Cluster())
	resp = fetch(2)
	for _, rt := range resp.Topics {
		code(t, "follower fetch of "+rt.Topic, rt.Partitions[0].ErrorCode, kerr.TopicAuthorizationFailed)
	}
}

func TestAuthorizeMetadata(t *testing.T) {
	b, d := startAuthBroker(t)
	cl := newClient(t, b.Addr())
	adm := kadm.NewClient(cl)
	createTopic(t, cl, "open", 1, nil)
	createTopic(t, cl, "secret", 1, nil)
	d.denyOp(auth.OpDescribe, auth.Topic("secret"))
	d.denyOp(auth.OpDescribe, auth.Topic("ghost")) // does not exist
	d.denyOp(auth.OpCreate, auth.Cluster())
	d.denyOp(auth.OpCreate, auth.Topic("nocreate"))

	md, err := adm.Metadata(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := md.Topics["secret"]; ok {
		t.Error("all-topics metadata lists secret, which may not be described")
	}
	if _, ok := md.Topics["open"]; !ok {
		t.Error("all-topics metadata misses open")
	}

	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = true
	for _, name := range []string{"open", "secret", "ghost", "nocreate", "maycreate"} {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*kerr.Error{
		"open":      {Code: 0, Message: "NONE"},
		"secret":    kerr.TopicAuthorizationFailed, // exists: not disclosed
		"ghost":     kerr.TopicAuthorizationFailed, // does not: not disclosed either
		"nocreate":  kerr.TopicAuthorizationFailed, // no CREATE on cluster or topic
		"maycreate": {Code: 0, Message: "NONE"},    // CREATE on the topic suffices
	}
	for _, rt := range resp.Topics {
		code(t, "metadata of "+*rt.Topic, rt.ErrorCode, want[*rt.Topic])
		delete(want, *rt.Topic)
	}
	if len(want) != 0 {
		t.Errorf("metadata did not answer %v", want)
	}
	if b.Topics().Topic("nocreate") != nil {
		t.Error("nocreate was auto-created without CREATE")
	}
	if b.Topics().Topic("maycreate") == nil {
		t.Error("maycreate was not auto-created")
	}
}

func TestAuthorizeCreateDeleteTopics(t *testing.T) {
	b, d := startAuthBroker(t)
	cl := newClient(t, b.Addr())
	adm := kadm.NewClient(cl)
	createTopic(t, cl, "keep", 1, nil)
	d.denyOp(auth.OpCreate, auth.Cluster())
	d.denyOp(auth.OpCreate, auth.Topic("nocreate"))
	d.denyOp(auth.OpDescribeConfigs, auth.Topic("noconfigs"))
	d.denyOp(auth.OpDelete, auth.Topic("keep"))

	req := kmsg.NewPtrCreateTopicsRequest()
	for _, name := range []string{"nocreate", "noconfigs"} {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 1, 1
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	code(t, "create nocreate", resp.Topics[0].ErrorCode, kerr.TopicAuthorizationFailed)
	code(t, "create noconfigs", resp.Topics[1].ErrorCode, &kerr.Error{Code: 0, Message: "NONE"})
	code(t, "configs of noconfigs", resp.Topics[1].ConfigErrorCode, kerr.TopicAuthorizationFailed)
	if len(resp.Topics[1].Configs) != 0 {
		t.Errorf("noconfigs answered %d configs without DESCRIBE_CONFIGS", len(resp.Topics[1].Configs))
	}
	if b.Topics().Topic("nocreate") != nil {
		t.Error("nocreate was created without CREATE")
	}

	dr, err := adm.DeleteTopics(ctxT(t), "keep", "noconfigs")
	if err != nil {
		t.Fatal(err)
	}
	if err := dr["keep"].Err; !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("delete keep: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	if err := dr["noconfigs"].Err; err != nil {
		t.Errorf("delete noconfigs: %v", err)
	}
	if b.Topics().Topic("keep") == nil {
		t.Error("keep was deleted without DELETE")
	}
}

func TestAuthorizeGroups(t *testing.T) {
	b, d := startAuthBroker(t)
	cl := newClient(t, b.Addr())
	adm := kadm.NewClient(cl)
	createTopic(t, cl, "open", 1, nil)
	createTopic(t, cl, "secret", 1, nil)
	createTopic(t, cl, "hidden", 1, nil)
	d.denyOp(auth.OpRead, auth.Group("g-denied"))
	d.denyOp(auth.OpDescribe, auth.Group("g-hidden"))
	d.denyOp(auth.OpRead, auth.Topic("secret"))
	d.denyOp(auth.OpDescribe, auth.Topic("hidden"))

	join := kmsg.NewPtrJoinGroupRequest()
	join.Group, join.ProtocolType = "g-denied", "consumer"
	join.SessionTimeoutMillis, join.RebalanceTimeoutMillis = 10000, 10000
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name, p.Metadata = "range", []byte{}
	join.Protocols = append(join.Protocols, p)
	jr, err := join.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	code(t, "join g-denied", jr.ErrorCode, kerr.GroupAuthorizationFailed)

	commit := func(group string) map[string]int16 {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Group, req.Generation = group, -1
		for _, topic := range []string{"open", "secret", "hidden"} {
			rt := kmsg.NewOffsetCommitRequestTopic()
			rt.Topic = topic
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Offset, rp.LeaderEpoch = 0, -1
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
		}
		resp, err := req.RequestWith(ctxT(t), cl)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int16{}
		for _, rt := range resp.Topics {
			out[rt.Topic] = rt.Partitions[0].ErrorCode
		}
		if len(out) != 3 {
			t.Fatalf("commit answered %v, want 3 topics", out)
		}
		return out
	}
	for topic, c := range commit("g-denied") {
		code(t, "commit "+topic+" to g-denied", c, kerr.GroupAuthorizationFailed)
	}
	got := commit("g")
	code(t, "commit open to g", got["open"], &kerr.Error{Code: 0, Message: "NONE"})
	code(t, "commit secret to g", got["secret"], kerr.TopicAuthorizationFailed)
	code(t, "commit hidden to g", got["hidden"], &kerr.Error{Code: 0, Message: "NONE"})

	// Of all offsets, hidden (not describable) is left out; named, it is
	// TOPIC_AUTHORIZATION_FAILED.
	fr, err := adm.FetchOffsets(ctxT(t), "g")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := fr.Lookup("hidden", 0); ok {
		t.Error("offset fetch of all topics discloses hidden")
	}
	if o, ok := fr.Lookup("open", 0); !ok || o.Err != nil || o.At != 0 {
		t.Errorf("offset fetch of open: %+v %v", o, ok)
	}
	of := kmsg.NewPtrOffsetFetchRequest()
	of.Group = "g"
	for _, topic := range []string{"open", "hidden"} {
		rt := kmsg.NewOffsetFetchRequestTopic()
		rt.Topic, rt.Partitions = topic, []int32{0}
		of.Topics = append(of.Topics, rt)
	}
	ofr, err := of.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	got = map[string]int16{}
	for _, g := range ofr.Groups {
		for _, rt := range g.Topics {
			got[rt.Topic] = rt.Partitions[0].ErrorCode
		}
	}
	for _, rt := range ofr.Topics {
		got[rt.Topic] = rt.Partitions[0].ErrorCode
	}
	code(t, "offset fetch of open", got["open"], &kerr.Error{Code: 0, Message: "NONE"})
	code(t, "offset fetch of hidden", got["hidden"], kerr.TopicAuthorizationFailed)

	if _, err := adm.FetchOffsets(ctxT(t), "g-hidden"); !errors.Is(err, kerr.GroupAuthorizationFailed) {
		t.Errorf("offset fetch of g-hidden: %v, want GROUP_AUTHORIZATION_FAILED", err)
	}
}

func TestAuthorizeInitProducerIDAndConfigs(t *testing.T) {
	b, d := startAuthBroker(t)
	cl := newClient(t, b.Addr())
	createTopic(t, cl, "open", 1, nil)
	createTopic(t, cl, "secret", 1, nil)

	ip := kmsg.NewPtrInitProducerIDRequest()
	ip.ProducerID, ip.ProducerEpoch = -1, -1
	// WRITE on some topic is enough without IDEMPOTENT_WRITE (KIP-679).
	d.denyOp(auth.OpIdempotentWrite, auth.Cluster())
	resp, err := ip.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	code(t, "InitProducerId with WRITE on a topic", resp.ErrorCode, &kerr.Error{Code: 0, Message: "NONE"})
	d.denyByType(auth.OpWrite, auth.ResourceTopic)
	resp, err = ip.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	code(t, "InitProducerId without", resp.ErrorCode, kerr.ClusterAuthorizationFailed)

	d.denyOp(auth.OpDescribeConfigs, auth.Topic("secret"))
	d.denyOp(auth.OpDescribeConfigs, auth.Cluster())
	dc := kmsg.NewPtrDescribeConfigsRequest()
	for _, r := range []struct {
		t    kmsg.ConfigResourceType
		name string
	}{{kmsg.ConfigResourceTypeTopic, "open"}, {kmsg.ConfigResourceTypeTopic, "secret"}, {kmsg.ConfigResourceTypeBroker, "1"}} {
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = r.t, r.name
		dc.Resources = append(dc.Resources, rr)
	}
	dr, err := dc.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	// The client splits the request (broker resources go to that
	// broker) and merges the answers: look them up by name.
	byName := map[string]kmsg.DescribeConfigsResponseResource{}
	for _, r := range dr.Resources {
		byName[r.ResourceName] = r
	}
	code(t, "describe configs of open", byName["open"].ErrorCode, &kerr.Error{Code: 0, Message: "NONE"})
	if len(byName["open"].Configs) == 0 {
		t.Error("describe configs of open: no configs")
	}
	code(t, "describe configs of secret", byName["secret"].ErrorCode, kerr.TopicAuthorizationFailed)
	code(t, "describe configs of broker 1", byName["1"].ErrorCode, kerr.ClusterAuthorizationFailed)
	if len(byName["secret"].Configs)+len(byName["1"].Configs) != 0 {
		t.Error("denied config resources answered configs")
	}
}

// TestSessionCarriesClient checks what the authorizer learns about the
// connection: the client's software from ApiVersions, its address, and
// the anonymous principal of a PLAINTEXT listener.
func TestSessionCarriesClient(t *testing.T) {
	b, d := startAuthBroker(t)
	var mu sync.Mutex
	var locals []string
	dial := func(ctx context.Context, network, host string) (net.Conn, error) {
		c, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, host)
		if err == nil {
			mu.Lock()
			locals = append(locals, c.LocalAddr().String())
			mu.Unlock()
		}
		return c, err
	}
	// The client's own versions: it starts ApiVersions above what Kafki
	// serves, and its software name arrives on the KIP-511 retry.
	cl := newClient(t, b.Addr(), kgo.SoftwareNameAndVersion("kafki-authz-test", "1.2.3"), kgo.Dialer(dial))
	createTopic(t, cl, "open", 1, nil)

	mu.Lock()
	dialed := map[string]bool{}
	for _, l := range locals {
		dialed[l] = true
	}
	mu.Unlock()
	ss := d.recorded()
	if len(ss) == 0 {
		t.Fatal("the authorizer was never asked")
	}
	for _, s := range ss {
		if s.ClientSoftwareName != "kafki-authz-test" || s.ClientSoftwareVersion != "1.2.3" {
			t.Errorf("session software %q %q, want kafki-authz-test 1.2.3", s.ClientSoftwareName, s.ClientSoftwareVersion)
		}
		if s.RemoteAddr == nil || !dialed[s.RemoteAddr.String()] {
			t.Errorf("session remote address %v, not one the client dialed from (%v)", s.RemoteAddr, dialed)
		}
		if s.Principal != auth.Anonymous || s.Listener != "PLAINTEXT" || s.Protocol != auth.Plaintext || s.SASL.Stage != auth.SASLNone {
			t.Errorf("session %+v: want ANONYMOUS on PLAINTEXT, SASL not started", s)
		}
	}
}
