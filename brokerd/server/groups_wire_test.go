package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/kafki/kafki/brokerd/internal/testbroker"
)

func TestFindCoordinatorBatchedAndTransactional(t *testing.T) {
	b := startGroupBroker(t)
	cl := newClient(t, b.Addr())
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.Version = 4
	req.CoordinatorKeys = []string{"a", "b", ""}
	// Straight to the broker: the client splits and merges batched keys.
	resp, err := req.RequestWith(ctxT(t), cl.Broker(1))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Coordinators) != 3 {
		t.Fatalf("%d coordinators", len(resp.Coordinators))
	}
	for _, c := range resp.Coordinators {
		switch c.Key {
		case "a", "b":
			if c.ErrorCode != 0 || c.NodeID != 1 || c.Port <= 0 {
				t.Errorf("key %s: %+v", c.Key, c)
			}
		case "":
			if c.ErrorCode != kerr.InvalidRequest.Code {
				t.Errorf("empty key: code %d", c.ErrorCode)
			}
		default:
			t.Errorf("unexpected key %q", c.Key)
		}
	}
	// Transactional ids, in whichever form the client negotiates.
	txn := kmsg.NewPtrFindCoordinatorRequest()
	txn.CoordinatorKey, txn.CoordinatorKeys, txn.CoordinatorType = "txn", []string{"txn"}, 1
	tresp, err := txn.RequestWith(ctxT(t), cl.Broker(1))
	if err != nil {
		t.Fatal(err)
	}
	code, node := tresp.ErrorCode, tresp.NodeID
	if len(tresp.Coordinators) == 1 {
		code, node = tresp.Coordinators[0].ErrorCode, tresp.Coordinators[0].NodeID
	}
	// A single node coordinates its transactional ids itself.
	if code != 0 || node != 1 {
		t.Fatalf("transaction coordinator: code %d node %d", code, node)
	}
}

func TestInternalOffsetsTopic(t *testing.T) {
	b := startGroupBroker(t)
	cl := newClient(t, b.Addr())
	adm := kadm.NewClient(cl)
	// The first coordinator lookup creates __consumer_offsets.
	if r := adm.FindGroupCoordinators(ctxT(t), "g")["g"]; r.Err != nil {
		t.Fatal(r.Err)
	}
	tds, err := adm.ListTopicsWithInternal(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	td, ok := tds["__consumer_offsets"]
	if !ok || !td.IsInternal || len(td.Partitions) != 5 {
		t.Fatalf("__consumer_offsets: present %v internal %v partitions %d", ok, td.IsInternal, len(td.Partitions))
	}
	if r, _ := adm.CreateTopic(ctxT(t), 1, 1, nil, "__consumer_offsets"); r.Err == nil {
		t.Fatal("clients could create __consumer_offsets")
	}
	if r, _ := adm.DeleteTopics(ctxT(t), "__consumer_offsets"); r["__consumer_offsets"].Err == nil {
		t.Fatal("clients could delete __consumer_offsets")
	}
}

// Group admin over the wire: list, describe, batched offset fetch,
// offset delete and group delete, each refusal with Kafka's code.
func TestGroupAdminAPIs(t *testing.T) {
	b := startGroupBroker(t)
	addr := b.Addr()
	cl := newClient(t, addr)
	adm := kadm.NewClient(cl)
	createTopic(t, cl, "adm", 2, nil)
	produceValues(t, producer(t, addr, "adm"), "adm", "v", 10)

	member := newClient(t, addr, memberOpts("active", "adm")...)
	waitStable(t, b, addr, "active", 1, 2)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go pollInto(ctx, "m", member, newSeen())

	offs := kadm.Offsets{}
	offs.AddOffset("adm", 0, 3, -1)
	offs.AddOffset("adm", 1, 4, -1)
	if r, err := adm.CommitOffsets(ctxT(t), "idle", offs); err != nil || r.Error() != nil {
		t.Fatalf("commit: %v %v", err, r.Error())
	}

	listed, err := adm.ListGroups(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if listed["active"].State != "Stable" || listed["idle"].State != "Empty" || listed["active"].ProtocolType != "consumer" {
		t.Fatalf("listed: %+v", listed)
	}
	stable, err := adm.ListGroups(ctxT(t), "Stable")
	if err != nil || len(stable) != 1 {
		t.Fatalf("state filter: %v %+v", err, stable)
	}

	// Batched OffsetFetch (v8+): two groups in one request.
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 8
	for _, g := range []string{"idle", "nobody"} {
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group = g
		rg.Topics = []kmsg.OffsetFetchRequestGroupTopic{{Topic: "adm", Partitions: []int32{0, 1}}}
		req.Groups = append(req.Groups, rg)
	}
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Groups) != 2 || resp.Groups[0].Topics[0].Partitions[1].Offset != 4 || resp.Groups[1].Topics[0].Partitions[0].Offset != -1 {
		t.Fatalf("batched fetch: %+v", resp.Groups)
	}

	// Deleting a group with members is refused; an empty one goes.
	dr, err := adm.DeleteGroups(ctxT(t), "active", "idle", "missing")
	if err != nil {
		t.Fatal(err)
	}
	if !errorIs(dr["active"].Err, kerr.NonEmptyGroup) || dr["idle"].Err != nil || !errorIs(dr["missing"].Err, kerr.GroupIDNotFound) {
		t.Fatalf("delete groups: active %v idle %v missing %v", dr["active"].Err, dr["idle"].Err, dr["missing"].Err)
	}
	if f, _ := adm.FetchOffsets(ctxT(t), "idle"); len(f) != 0 {
		t.Fatalf("deleted group still has offsets: %+v", f)
	}

	// OffsetDelete refuses topics the live group subscribes to.
	od, err := adm.DeleteOffsets(ctxT(t), "active", kadm.TopicsSet{"adm": {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	if !errorIs(od["adm"][0], kerr.GroupSubscribedToTopic) {
		t.Fatalf("offset delete: %v", od["adm"][0])
	}
}

func errorIs(err error, want *kerr.Error) bool {
	return err != nil && strings.Contains(err.Error(), want.Message)
}

// Bad group input gets Kafka's error codes and changes nothing.
func TestGroupBadInputOverTheWire(t *testing.T) {
	b := startGroupBroker(t, testbroker.WithConfig(withGroupLimits))
	addr := b.Addr()
	cl := newClient(t, addr)
	createTopic(t, cl, "bad", 1, nil)
	produceValues(t, producer(t, addr, "bad"), "bad", "v", 5)
	m1 := newClient(t, addr, memberOpts("strict", "bad")...)
	m1.PollFetches(ctxT(t))
	waitStable(t, b, addr, "strict", 1, 1)
	d := b.Groups().DescribeGroup("strict")
	member, gen := d.Members[0].MemberID, d.Generation

	do := func(req kmsg.Request) kmsg.Response {
		t.Helper()
		// Straight to the broker: the client would refuse to look up
		// a coordinator for an empty group id.
		resp, err := cl.Broker(1).Request(ctxT(t), req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	commit := func(group string, g int32, m string, topic string, off int64, meta string) int16 {
		r := kmsg.NewPtrOffsetCommitRequest()
		r.Group, r.Generation, r.MemberID = group, g, m
		tp := kmsg.NewOffsetCommitRequestTopic()
		tp.Topic = topic
		p := kmsg.NewOffsetCommitRequestTopicPartition()
		p.Offset, p.Metadata = off, &meta
		tp.Partitions = append(tp.Partitions, p)
		r.Topics = append(r.Topics, tp)
		return do(r).(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode
	}
	if c := commit("strict", gen, member, "bad", 2, "ok"); c != 0 {
		t.Fatalf("good commit: %d", c)
	}
	join := func(group, protoType, proto string, session int32) int16 {
		r := kmsg.NewPtrJoinGroupRequest()
		r.Group, r.ProtocolType, r.SessionTimeoutMillis, r.RebalanceTimeoutMillis = group, protoType, session, 5000
		r.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: proto, Metadata: []byte{}}}
		return do(r).(*kmsg.JoinGroupResponse).ErrorCode
	}
	hb := func(g int32, m string) int16 {
		r := kmsg.NewPtrHeartbeatRequest()
		r.Group, r.Generation, r.MemberID = "strict", g, m
		return do(r).(*kmsg.HeartbeatResponse).ErrorCode
	}
	cases := []struct {
		name string
		got  int16
		want *kerr.Error
	}{
		{"stale generation", hb(gen-1, member), kerr.IllegalGeneration},
		{"unknown member", hb(gen, "ghost"), kerr.UnknownMemberID},
		{"stale commit", commit("strict", gen+1, member, "bad", 1, ""), kerr.IllegalGeneration},
		{"wrong protocol type", join("strict", "connect", "cooperative-sticky", 3000), kerr.InconsistentGroupProtocol},
		{"no common protocol", join("strict", "consumer", "bespoke", 3000), kerr.InconsistentGroupProtocol},
		{"session below minimum", join("strict", "consumer", "cooperative-sticky", 50), kerr.InvalidSessionTimeout},
		{"group full", join("strict", "consumer", "cooperative-sticky", 3000), kerr.GroupMaxSizeReached},
		{"metadata too large", commit("strict", gen, member, "bad", 1, strings.Repeat("m", 65)), kerr.OffsetMetadataTooLarge},
		{"unknown topic", commit("strict", gen, member, "nope", 1, ""), kerr.UnknownTopicOrPartition},
		{"offset out of range", commit("strict", gen, member, "bad", 99, ""), kerr.OffsetOutOfRange},
		{"empty group id", join("", "consumer", "range", 3000), kerr.InvalidGroupID},
	}
	for _, c := range cases {
		if c.got != c.want.Code {
			t.Errorf("%s: code %d (%v), want %s", c.name, c.got, kerr.ErrorForCode(c.got), c.want.Message)
		}
	}
	after := b.Groups().DescribeGroup("strict")
	if after.Generation != gen || len(after.Members) != 1 || after.Members[0].MemberID != member {
		t.Fatalf("group changed: %+v", after)
	}
	offs, err := kadm.NewClient(cl).FetchOffsets(ctxT(t), "strict")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := offs.Lookup("bad", 0); o.At != 2 || o.Metadata != "ok" || len(offs) != 1 {
		t.Fatalf("offsets changed: %+v", offs)
	}
	_ = kgo.Record{}
}

// Older clients (Kafka 2.0 protocol versions: JoinGroup v3 without
// MEMBER_ID_REQUIRED, single-key FindCoordinator, single-group
// OffsetFetch) form groups and commit too.
func TestGroupOlderProtocolVersions(t *testing.T) {
	b := startGroupBroker(t)
	addr := b.Addr()
	old := kgo.MaxVersions(kversion.V2_0_0())
	createTopic(t, newClient(t, addr), "old", 2, nil)
	produceValues(t, producer(t, addr, "old"), "old", "v", 20)
	m := newClient(t, addr, append(memberOpts("oldies", "old"), old)...)
	s := newSeen()
	ctx := ctxT(t)
	for s.distinct() < 20 && ctx.Err() == nil {
		s.add("m", m.PollFetches(ctx).Records())
	}
	if s.distinct() != 20 {
		t.Fatalf("old-version member saw %d of 20", s.distinct())
	}
	if err := m.CommitUncommittedOffsets(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	offs, err := kadm.NewClient(newClient(t, addr, old)).FetchOffsets(ctxT(t), "oldies")
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	offs.Each(func(o kadm.OffsetResponse) { sum += o.At })
	if sum != 20 {
		t.Fatalf("committed offsets sum to %d, want 20", sum)
	}
}
