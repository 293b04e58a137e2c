package cli_test

import (
	"context"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// rowFields returns the whitespace-separated fields of the first output
// line whose first field is first and second field is second.
func rowFields(out, first, second string) []string {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == first && f[1] == second {
			return f
		}
	}
	return nil
}

func TestClusterDescribeSingleBroker(t *testing.T) {
	bs := startBroker(t)
	mustRun(t, bs, "", "topics", "create", "--topic", "orders", "--partitions", "3")
	mustRun(t, bs, "", "topics", "create", "--topic", "audit")
	out := mustRun(t, bs, "", "cluster", "describe")
	t.Logf("output:\n%s", out)

	if !regexp.MustCompile(`(?m)^Cluster: \S+\nController: 1\n`).MatchString(out) {
		t.Errorf("want cluster id and controller 1 at the top")
	}
	if !regexp.MustCompile(`(?m)^BROKER\s+HOST:PORT\s+RACK\s+ROLE$`).MatchString(out) {
		t.Errorf("no broker table header")
	}
	if got, want := strings.Join(rowFields(out, "1", bs), " "), "1 "+bs+" - controller"; got != want {
		t.Errorf("broker row = %q, want %q", got, want)
	}
	if !regexp.MustCompile(`(?m)^TOPIC\s+PARTITION\s+LEADER\s+EPOCH\s+REPLICAS\s+ISR\s+FLAGS$`).MatchString(out) {
		t.Errorf("no partition table header")
	}
	for p := range 3 {
		f := rowFields(out, "orders", strconv.Itoa(p))
		if len(f) != 7 || f[2] != "1" || f[4] != "1" || f[5] != "1" || f[6] != "-" {
			t.Errorf("orders/%d row = %q, want leader 1, replicas 1, ISR 1, no flags", p, f)
		}
		if _, err := strconv.Atoi(f[3]); err != nil {
			t.Errorf("orders/%d epoch %q is not a number", p, f[3])
		}
	}
	if f := rowFields(out, "audit", "0"); len(f) != 7 || f[2] != "1" {
		t.Errorf("audit/0 row = %q, want leader 1", f)
	}
	// Topics sorted: audit before orders.
	if strings.Index(out, "\naudit ") > strings.Index(out, "\norders ") {
		t.Errorf("topics not sorted")
	}
	if strings.Contains(out, "__consumer_offsets") {
		t.Errorf("internal topic shown without --include-internal")
	}
	if !strings.HasSuffix(out, "\n1 brokers, 4 partitions, 0 under-replicated, 0 offline\n") {
		t.Errorf("summary line missing or wrong")
	}

	// --topic filters; repeated, it takes several.
	out = mustRun(t, bs, "", "cluster", "describe", "--topic", "orders")
	if strings.Contains(out, "audit") || rowFields(out, "orders", "2") == nil {
		t.Errorf("--topic orders output:\n%s", out)
	}
	if !strings.HasSuffix(out, "\n1 brokers, 3 partitions, 0 under-replicated, 0 offline\n") {
		t.Errorf("--topic orders summary wrong:\n%s", out)
	}
	wantFailure(t, kafki(t, bs, "", "cluster", "describe", "--topic", "nope"), 1, "kafki cluster describe:", "unknown topic", "nope")
}

func TestClusterDescribeIncludeInternal(t *testing.T) {
	bs := startGroupBroker(t) // offsets topic with 3 partitions
	// A group commit makes the broker create __consumer_offsets.
	mustRun(t, bs, "a\n", "produce", "--topic", "t")
	mustRun(t, bs, "", "consume", "--topic", "t", "--group", "g", "--from-beginning", "--max-messages", "1")
	if out := mustRun(t, bs, "", "cluster", "describe"); strings.Contains(out, "__consumer_offsets") {
		t.Errorf("internal topic shown by default:\n%s", out)
	}
	out := mustRun(t, bs, "", "cluster", "describe", "--include-internal")
	if rowFields(out, "__consumer_offsets", "2") == nil {
		t.Errorf("--include-internal does not show __consumer_offsets/2:\n%s", out)
	}
}

func TestClusterDescribeUnreachable(t *testing.T) {
	// A port nobody listens on: bind, note it, close.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	r := kafki(t, "", "", "cluster", "describe", "--bootstrap-server", addr, "--timeout", "500ms")
	wantFailure(t, r, 1, "kafki cluster describe:", "cannot reach bootstrap server", addr)
	if r.stdout != "" {
		t.Errorf("stdout %q on failure, want nothing", r.stdout)
	}
}

func TestClusterDescribeUsage(t *testing.T) {
	wantFailure(t, kafki(t, "", "", "cluster", "describe", "--bogus"), 2, "--bogus")
	wantFailure(t, kafki(t, "", "", "cluster", "nope"), 2, `unknown subcommand "nope"`)
	if r := kafki(t, "", "", "cluster", "describe", "--help"); r.code != 0 || !strings.Contains(r.stdout, "--include-internal") {
		t.Errorf("help: exit %d, stdout %q", r.code, r.stdout)
	}
}

// TestConsumeWithoutCoordinator: a cluster that never names a group
// coordinator (a fake whose FindCoordinator always answers
// COORDINATOR_NOT_AVAILABLE; a real broker creates one) gets a one-line
// error naming the group instead of a hang.
func TestConsumeWithoutCoordinator(t *testing.T) {
	fake, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "jobs"))
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	fake.ControlKey(int16(kmsg.FindCoordinator), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		fake.KeepControl()
		req := kreq.(*kmsg.FindCoordinatorRequest)
		resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
		for _, key := range req.CoordinatorKeys {
			c := kmsg.NewFindCoordinatorResponseCoordinator()
			c.Key, c.ErrorCode = key, kerr.CoordinatorNotAvailable.Code
			resp.Coordinators = append(resp.Coordinators, c)
		}
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp, nil, true
	})
	r := kafki(t, strings.Join(fake.ListenAddrs(), ","), "", "consume", "--topic", "jobs", "--group", "workers", "--timeout", "2s")
	wantFailure(t, r, 1, "group coordinator not available", `"workers"`)
	if n := strings.Count(strings.TrimSpace(r.stderr), "\n"); n != 0 {
		t.Errorf("stderr has %d lines, want one: %q", n+1, r.stderr)
	}
}

// TestClusterDescribeFlagsUnhealthyPartitions answers Metadata from a fake
// three-broker cluster with a leaderless and a shrunken-ISR partition, which
// a single real broker cannot produce.
func TestClusterDescribeFlagsUnhealthyPartitions(t *testing.T) {
	fake, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.ClusterID("fake-cluster"))
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	// The crafted answer must name kfake's real node ids and addresses:
	// franz-go checks that a node answers under the id it was given.
	addrs := fakeNodeAddrs(t, fake.ListenAddrs())
	fake.ControlKey(int16(kmsg.Metadata), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		fake.KeepControl()
		req := kreq.(*kmsg.MetadataRequest)
		resp := req.ResponseKind().(*kmsg.MetadataResponse)
		resp.ClusterID = kmsg.StringPtr("fake-cluster")
		resp.ControllerID = 2
		racks := []string{"az-a", "az-b", ""}
		for i, a := range addrs {
			host, port, _ := net.SplitHostPort(a)
			p, _ := strconv.Atoi(port)
			b := kmsg.NewMetadataResponseBroker()
			b.NodeID, b.Host, b.Port = int32(i), host, int32(p)
			if racks[i] != "" {
				b.Rack = kmsg.StringPtr(racks[i])
			}
			resp.Brokers = append(resp.Brokers, b)
		}
		if req.Topics != nil && len(req.Topics) == 0 {
			return resp, nil, true // the client's ping: no topics asked
		}
		type part struct {
			leader, epoch int32
			replicas, isr []int32
		}
		topic := func(name string, internal bool, parts ...part) {
			rt := kmsg.NewMetadataResponseTopic()
			rt.Topic, rt.IsInternal = kmsg.StringPtr(name), internal
			for i, p := range parts {
				rp := kmsg.NewMetadataResponseTopicPartition()
				rp.Partition, rp.Leader, rp.LeaderEpoch, rp.Replicas, rp.ISR = int32(i), p.leader, p.epoch, p.replicas, p.isr
				if p.leader < 0 {
					rp.ErrorCode = 5 // LEADER_NOT_AVAILABLE
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		topic("orders", false,
			part{0, 3, []int32{0, 1, 2}, []int32{0, 1, 2}},
			part{-1, 5, []int32{0, 1, 2}, nil},
			part{2, 1, []int32{0, 1, 2}, []int32{2, 0}},
		)
		topic("__consumer_offsets", true, part{1, 0, []int32{1, 2, 0}, []int32{1}})
		return resp, nil, true
	})

	out := mustRun(t, strings.Join(addrs, ","), "", "cluster", "describe")
	t.Logf("output:\n%s", out)
	if !strings.HasPrefix(out, "Cluster: fake-cluster\nController: 2\n") {
		t.Errorf("header wrong")
	}
	wantBrokers := []string{"0 " + addrs[0] + " az-a -", "1 " + addrs[1] + " az-b -", "2 " + addrs[2] + " - controller"}
	for i, want := range wantBrokers {
		if got := strings.Join(rowFields(out, strconv.Itoa(i), addrs[i]), " "); got != want {
			t.Errorf("broker row %q, want %q", got, want)
		}
	}
	wantParts := map[string]string{
		"0": "orders 0 0 3 0,1,2 0,1,2 -",
		"1": "orders 1 none 5 0,1,2 - offline,under-replicated,error=LEADER_NOT_AVAILABLE",
		"2": "orders 2 2 1 0,1,2 2,0 under-replicated",
	}
	for p, want := range wantParts {
		if got := strings.Join(rowFields(out, "orders", p), " "); got != want {
			t.Errorf("partition row %q, want %q", got, want)
		}
	}
	if strings.Contains(out, "__consumer_offsets") {
		t.Errorf("internal topic shown without --include-internal")
	}
	if !strings.HasSuffix(out, "\n3 brokers, 3 partitions, 2 under-replicated, 1 offline\n") {
		t.Errorf("summary wrong")
	}

	out = mustRun(t, strings.Join(addrs, ","), "", "cluster", "describe", "--include-internal")
	if got, want := strings.Join(rowFields(out, "__consumer_offsets", "0"), " "), "__consumer_offsets 0 1 0 1,2,0 1 under-replicated"; got != want {
		t.Errorf("internal row %q, want %q", got, want)
	}
	if !strings.HasSuffix(out, "\n3 brokers, 4 partitions, 3 under-replicated, 1 offline\n") {
		t.Errorf("summary with internal topics wrong:\n%s", out)
	}
}

// fakeNodeAddrs asks kfake for its brokers and returns their addresses
// indexed by node id (kfake numbers nodes 0..n-1).
func fakeNodeAddrs(t *testing.T, seeds []string) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	addrs := make([]string, len(m.Brokers))
	for _, b := range m.Brokers {
		if b.NodeID < 0 || int(b.NodeID) >= len(addrs) {
			t.Fatalf("kfake node id %d outside 0..%d", b.NodeID, len(addrs)-1)
		}
		addrs[b.NodeID] = net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
	}
	return addrs
}
