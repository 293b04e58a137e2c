package groups

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/batch"
	"github.com/kafki/kafki/internal/poll"
)

// fakeClock is a manual clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// memLog is an in-memory Log with segments, counting what is read.
type memLog struct {
	mu       sync.Mutex
	batches  [][]byte // each with its base offset written in
	bases    []int64
	segments []int64 // segment base offsets
	end      int64
	fail     error // when set, Append fails
	appends  int
	// commits, when set, receives each append's commit: its wait blocks
	// until the test closes the channel it sent (the in-sync replicas
	// copied it).
	commits chan chan struct{}
}

func (l *memLog) Append(b []byte) (func(context.Context) error, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return nil, l.fail
	}
	bs, err := batch.Split(b)
	if err != nil {
		return nil, err
	}
	for _, raw := range bs {
		h, err := batch.ParseHeader(raw)
		if err != nil {
			return nil, err
		}
		c := append([]byte(nil), raw...)
		binary.BigEndian.PutUint64(c, uint64(l.end))
		l.batches = append(l.batches, c)
		l.bases = append(l.bases, l.end)
		l.end += int64(h.LastOffsetDelta) + 1
	}
	l.appends++
	if l.commits == nil {
		return func(context.Context) error { return nil }, nil
	}
	committed := make(chan struct{})
	l.commits <- committed
	return func(ctx context.Context) error {
		select {
		case <-committed:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}, nil
}

func (l *memLog) AppendMarker(pid int64, epoch int16, commit bool, coordinatorEpoch int32) (func(context.Context) error, error) {
	t := batch.ControlAbort
	if commit {
		t = batch.ControlCommit
	}
	return l.Append(batch.BuildMarker(pid, epoch, t, coordinatorEpoch, 0))
}

func (l *memLog) Read(offset int64, maxBytes int) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []byte
	for i, b := range l.batches {
		h, _ := batch.ParseHeader(b)
		if h.LastOffset() < offset {
			continue
		}
		if len(out) > 0 && len(out)+len(b) > maxBytes {
			break
		}
		_ = i
		out = append(out, b...)
	}
	return out, nil
}

func (l *memLog) Start() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.bases) == 0 {
		return l.end
	}
	return l.bases[0]
}

func (l *memLog) End() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.end
}

func (l *memLog) Roll() error {
	l.mu.Lock()
	l.segments = append(l.segments, l.end)
	l.mu.Unlock()
	return nil
}

func (l *memLog) DeleteBefore(off int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	cut := int64(0)
	for _, s := range l.segments {
		if s <= off {
			cut = s
		}
	}
	for len(l.bases) > 0 && l.bases[0] < cut {
		l.bases, l.batches = l.bases[1:], l.batches[1:]
	}
	return nil
}

// fakeTopics has every partition of the named topics, with end 1000,
// known except for the topics in remote (led by another broker).
type fakeTopics struct {
	mu     sync.Mutex
	topics map[string]int32
	remote map[string]bool
}

func (t *fakeTopics) PartitionEnd(topic string, p int32) (int64, bool, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n, ok := t.topics[topic]
	if !ok || p < 0 || p >= n {
		return 0, false, false
	}
	if t.remote[topic] {
		return 0, false, true
	}
	return 1000, true, true
}

// addRemote adds a topic whose partitions this broker does not lead.
func (t *fakeTopics) addRemote(topic string, partitions int32) {
	t.mu.Lock()
	t.topics[topic] = partitions
	if t.remote == nil {
		t.remote = map[string]bool{}
	}
	t.remote[topic] = true
	t.mu.Unlock()
}

func (t *fakeTopics) remove(topic string) {
	t.mu.Lock()
	delete(t.topics, topic)
	t.mu.Unlock()
}

type env struct {
	t      testing.TB
	c      *Coordinator
	clock  *fakeClock
	logs   []Log
	topics *fakeTopics
	cfg    Config
}

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.MinSessionTimeout = time.Second
	cfg.InitialRebalanceDelay = 0
	cfg.SnapshotMinRecords = 100
	return cfg
}

func newEnv(t testing.TB, cfg Config) *env {
	e := &env{t: t, clock: &fakeClock{now: time.Unix(1_700_000_000, 0)}, topics: &fakeTopics{topics: map[string]int32{"t": 6, "u": 2}}, cfg: cfg}
	for i := 0; i < 3; i++ {
		e.logs = append(e.logs, &memLog{})
	}
	e.c = New(cfg, e.opener(), e.topics, e.clock, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return e
}

func (e *env) opener() func() ([]Log, error) {
	return func() ([]Log, error) { return e.logs, nil }
}

// restart builds a new coordinator over the same logs and loads it.
func (e *env) restart() LoadStats {
	e.t.Helper()
	e.c = New(e.cfg, e.opener(), e.topics, e.clock, slog.New(slog.NewTextHandler(io.Discard, nil)))
	st, err := e.c.Load()
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

func consumerProtocols(names ...string) []kmsg.JoinGroupRequestProtocol {
	var out []kmsg.JoinGroupRequestProtocol
	for _, n := range names {
		meta := kmsg.NewConsumerMemberMetadata()
		meta.Topics = []string{"t"}
		out = append(out, kmsg.JoinGroupRequestProtocol{Name: n, Metadata: meta.AppendTo(nil)})
	}
	return out
}

func joinReq(group, member string, protocols ...string) *kmsg.JoinGroupRequest {
	r := kmsg.NewPtrJoinGroupRequest()
	r.Version = 9
	r.Group, r.MemberID = group, member
	r.SessionTimeoutMillis, r.RebalanceTimeoutMillis = 10_000, 20_000
	r.ProtocolType = "consumer"
	if len(protocols) == 0 {
		protocols = []string{"range"}
	}
	r.Protocols = consumerProtocols(protocols...)
	return r
}

// joinAsync sends a JoinGroup and returns where its answer arrives.
func (e *env) joinAsync(r *kmsg.JoinGroupRequest) <-chan *kmsg.JoinGroupResponse {
	ch := make(chan *kmsg.JoinGroupResponse, 1)
	go func() { ch <- e.c.JoinGroup(context.Background(), r, "client", "/127.0.0.1") }()
	return ch
}

func (e *env) await(ch <-chan *kmsg.JoinGroupResponse) *kmsg.JoinGroupResponse {
	e.t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		e.t.Fatal("JoinGroup did not complete")
		return nil
	}
}

// newMember joins with no id, gets MEMBER_ID_REQUIRED and returns the
// channel of its second join.
func (e *env) newMember(group string, r *kmsg.JoinGroupRequest) <-chan *kmsg.JoinGroupResponse {
	e.t.Helper()
	first := e.c.JoinGroup(context.Background(), r, "client", "/127.0.0.1")
	if first.ErrorCode != ErrMemberIDRequired.Code || first.MemberID == "" {
		e.t.Fatalf("first join: code %d member %q, want MEMBER_ID_REQUIRED", first.ErrorCode, first.MemberID)
	}
	r2 := *r
	r2.MemberID = first.MemberID
	return e.joinAsync(&r2)
}

func (e *env) sync(group string, gen int32, member string, assign map[string]string) <-chan *kmsg.SyncGroupResponse {
	r := kmsg.NewPtrSyncGroupRequest()
	r.Version = 5
	r.Group, r.Generation, r.MemberID = group, gen, member
	for m, a := range assign {
		r.GroupAssignment = append(r.GroupAssignment, kmsg.SyncGroupRequestGroupAssignment{MemberID: m, MemberAssignment: []byte(a)})
	}
	ch := make(chan *kmsg.SyncGroupResponse, 1)
	go func() { ch <- e.c.SyncGroup(context.Background(), r) }()
	return ch
}

func awaitSync(t testing.TB, ch <-chan *kmsg.SyncGroupResponse) *kmsg.SyncGroupResponse {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("SyncGroup did not complete")
		return nil
	}
}

func (e *env) heartbeat(group string, gen int32, member string) int16 {
	r := kmsg.NewPtrHeartbeatRequest()
	r.Group, r.Generation, r.MemberID = group, gen, member
	return e.c.Heartbeat(r)
}

func commitReq(group string, gen int32, member string, topic string, part int32, off int64, meta string) *kmsg.OffsetCommitRequest {
	r := kmsg.NewPtrOffsetCommitRequest()
	r.Version = 9
	r.Group, r.Generation, r.MemberID = group, gen, member
	t := kmsg.NewOffsetCommitRequestTopic()
	t.Topic = topic
	p := kmsg.NewOffsetCommitRequestTopicPartition()
	p.Partition, p.Offset, p.Metadata = part, off, &meta
	t.Partitions = append(t.Partitions, p)
	r.Topics = append(r.Topics, t)
	return r
}

func (e *env) commit(group string, gen int32, member, topic string, part int32, off int64) int16 {
	resp := e.c.OffsetCommit(commitReq(group, gen, member, topic, part, off, ""))
	return resp.Topics[0].Partitions[0].ErrorCode
}

func (e *env) fetched(group, topic string, part int32) int64 {
	e.t.Helper()
	offs, err := e.c.FetchOffsets(group, []TopicPartitions{{Topic: topic, Partitions: []int32{part}}})
	if err != nil {
		e.t.Fatal(err)
	}
	return offs[0].Offset
}

// stableGroup forms a Stable group of n members and returns their ids
// (the first is the leader) and the generation.
func (e *env) stableGroup(group string, n int) ([]string, int32) {
	e.t.Helper()
	first := e.await(e.newMember(group, joinReq(group, "")))
	if first.ErrorCode != 0 {
		e.t.Fatalf("first member join: %d", first.ErrorCode)
	}
	resps := []*kmsg.JoinGroupResponse{first}
	if n > 1 {
		var chans []<-chan *kmsg.JoinGroupResponse
		for i := 1; i < n; i++ {
			chans = append(chans, e.newMember(group, joinReq(group, "")))
		}
		// The first member learns of the rebalance and rejoins.
		waitMembers(e, group, n)
		chans = append(chans, e.joinAsync(joinReq(group, first.MemberID)))
		resps = resps[:0]
		for _, ch := range chans {
			r := e.await(ch)
			if r.ErrorCode != 0 {
				e.t.Fatalf("join: code %d", r.ErrorCode)
			}
			resps = append(resps, r)
		}
	}
	leader, gen := resps[0].LeaderID, resps[0].Generation
	assign := map[string]string{}
	out := []string{leader}
	for _, r := range resps {
		assign[r.MemberID] = "a-" + r.MemberID
		if r.MemberID != leader {
			out = append(out, r.MemberID)
		}
	}
	var syncs []<-chan *kmsg.SyncGroupResponse
	for _, id := range out[1:] {
		syncs = append(syncs, e.sync(group, gen, id, nil))
	}
	syncs = append(syncs, e.sync(group, gen, leader, assign))
	for _, ch := range syncs {
		if r := awaitSync(e.t, ch); r.ErrorCode != 0 {
			e.t.Fatalf("sync: code %d", r.ErrorCode)
		}
	}
	return out, gen
}

// waitMembers waits until the group has n members (joins in flight have
// been applied).
func waitMembers(e *env, group string, n int) {
	e.t.Helper()
	poll.True(e.t, 5*time.Second, fmt.Sprintf("group %s with %d members", group, n), func() bool {
		return len(e.c.DescribeGroup(group).Members) == n
	})
}
