package server_test

import (
	"fmt"
	"net"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A member's OffsetCommit (generation >= 0) to a group that does not
// exist is answered per request version as Kafka 4's coordinator answers
// it (OffsetMetadataManager.validateOffsetCommit): GROUP_ID_NOT_FOUND
// from v9, ILLEGAL_GENERATION for v1..v8, whose clients rejoin on it. v0
// carries no generation, so it commits as a simple consumer and creates
// the group, as generation -1 does at any version, with or without a
// member id. Refused commits create no group and store nothing.
func TestOffsetCommitToMissingGroupPerVersion(t *testing.T) {
	b := startGroupBroker(t)
	cl := newClient(t, b.Addr())
	createTopic(t, cl, "mg", 1, nil)
	produceValues(t, producer(t, b.Addr(), "mg"), "mg", "v", 3)
	adm := kadm.NewClient(cl)
	// Create __consumer_offsets before the raw requests, which do not
	// retry COORDINATOR_NOT_AVAILABLE.
	if _, err := adm.FetchOffsets(ctxT(t), "warm-up"); err != nil {
		t.Fatal(err)
	}
	conn := dialRaw(t, b.Addr())
	commit := func(version int16, group string, gen int32, member string) int16 {
		t.Helper()
		r := kmsg.NewPtrOffsetCommitRequest()
		r.Version = version
		r.Group, r.Generation, r.MemberID = group, gen, member
		tp := kmsg.NewOffsetCommitRequestTopic()
		tp.Topic = "mg"
		p := kmsg.NewOffsetCommitRequestTopicPartition()
		p.Offset = 2
		tp.Partitions = append(tp.Partitions, p)
		r.Topics = append(r.Topics, tp)
		resp := conn.roundTrip(r, int32(100+version)).(*kmsg.OffsetCommitResponse)
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			t.Fatalf("v%d: response %+v", version, resp)
		}
		return resp.Topics[0].Partitions[0].ErrorCode
	}
	committed := func(group string) int64 {
		t.Helper()
		offs, err := adm.FetchOffsets(ctxT(t), group)
		if err != nil {
			t.Fatalf("fetch offsets of %s: %v", group, err)
		}
		o, ok := offs.Lookup("mg", 0)
		if !ok {
			return -1
		}
		return o.At
	}
	for v := int16(0); v <= 9; v++ {
		group := fmt.Sprintf("missing-v%d", v)
		want := kerr.IllegalGeneration.Code
		switch {
		case v == 0:
			want = 0
		case v >= 9:
			want = kerr.GroupIDNotFound.Code
		}
		got := commit(v, group, 4, "member-1")
		if got != want {
			t.Errorf("v%d, generation 4: %v, want %v", v, kerr.ErrorForCode(got), kerr.ErrorForCode(want))
		}
		wantOff := int64(-1)
		if want == 0 {
			wantOff = 2
		}
		if off := committed(group); off != wantOff {
			t.Errorf("v%d: committed offset %d, want %d", v, off, wantOff)
		}
		simple := fmt.Sprintf("simple-v%d", v)
		if got := commit(v, simple, -1, "member-1"); got != 0 {
			t.Errorf("v%d, generation -1 with a member id: %v, want success", v, kerr.ErrorForCode(got))
		}
		if off := committed(simple); off != 2 {
			t.Errorf("v%d: simple group committed %d, want 2", v, off)
		}
	}
	listed, err := adm.ListGroups(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	for v := 1; v <= 9; v++ {
		if _, ok := listed[fmt.Sprintf("missing-v%d", v)]; ok {
			t.Errorf("refused commit at v%d created its group", v)
		}
	}
}

// FindCoordinator v0 (a single key, the answer in the top-level fields)
// names this broker: its node id, host and port.
func TestFindCoordinatorV0(t *testing.T) {
	b := startGroupBroker(t)
	host, portStr, err := net.SplitHostPort(b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(portStr)
	conn := dialRaw(t, b.Addr())
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.Version = 0
	req.CoordinatorKey = "v0-group"
	resp := conn.roundTrip(req, 7).(*kmsg.FindCoordinatorResponse)
	if resp.ErrorCode != 0 {
		t.Fatalf("error %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	if resp.NodeID != 1 || resp.Host != host || resp.Port != int32(port) {
		t.Fatalf("coordinator %d at %s:%d, want 1 at %s:%d", resp.NodeID, resp.Host, resp.Port, host, port)
	}
	// An empty group id is refused in v0's top-level error too.
	bad := kmsg.NewPtrFindCoordinatorRequest()
	bad.Version = 0
	if r := conn.roundTrip(bad, 8).(*kmsg.FindCoordinatorResponse); r.ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("empty key: %v", kerr.ErrorForCode(r.ErrorCode))
	}
}
