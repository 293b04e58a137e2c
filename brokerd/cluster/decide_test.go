package cluster

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/kafki/kafki/brokerd/lease"
	"github.com/kafki/kafki/brokerd/meta"
)

// TestDecide replays the controller scenarios of testdata/decide: each
// "decide" directive describes a View and expects Decide's Plan.
// go test -run TestDecide -rewrite regenerates the expected plans (then
// read the diff: it is the change of behaviour).
//
// Input, one item a line (order within a kind is kept):
//
//	broker <id> [rack=<r>] [session=<epoch>] alive|lapsed|released|no-lease|fenced
//	topic <name> partitions=<n> [rf=<n>] [<config>=<value>]...
//	partition <topic>/<p> replicas=<a,b> leader=<id|none> epoch=<n> isr=<a,b> session=<n> version=<n>
//
// A broker's state: alive, lapsed (its lease stopped changing), released
// (it shut down and released its lease), no-lease (registered, no lease
// record), fenced (its registration is marked fenced). The directive takes
// unclean-default=true for the broker-wide unclean election default.
func TestDecide(t *testing.T) {
	datadriven.Walk(t, "testdata/decide", func(t *testing.T, path string) {
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd != "decide" {
				d.Fatalf(t, "unknown command %q", d.Cmd)
			}
			v, err := parseView(d.Input)
			if err != nil {
				d.Fatalf(t, "%v", err)
			}
			if d.HasArg("unclean-default") {
				d.ScanArgs(t, "unclean-default", &v.UncleanDefault)
			}
			plan := Decide(v)
			checkPlan(t, v, plan)
			return formatPlan(plan)
		})
	})
}

// checkPlan checks what every plan must satisfy, whatever the scenario.
func checkPlan(t *testing.T, v View, p Plan) {
	t.Helper()
	before := map[string]PartitionState{}
	for _, st := range v.Snapshot.Partitions {
		before[fmt.Sprintf("%s/%d", st.Topic, st.Partition)] = st
	}
	fenced := map[int32]bool{}
	for _, f := range p.Fence {
		fenced[f.Broker.ID] = true
	}
	for _, w := range append(append([]PartitionWrite{}, p.Elect...), p.Place...) {
		next := w.Next
		if err := next.Validate(); err != nil {
			t.Errorf("plan writes an invalid state: %v", err)
		}
		if next.Leader != NoLeader && (fenced[next.Leader] || !v.Sessions[next.Leader].Alive) {
			t.Errorf("%s/%d: leader %d is not a live broker", next.Topic, next.Partition, next.Leader)
		}
		if old, ok := before[fmt.Sprintf("%s/%d", next.Topic, next.Partition)]; ok {
			if w.ExpectVersion != old.Version || next.LeaderEpoch <= old.LeaderEpoch && next.Leader != old.Leader {
				t.Errorf("%s/%d: write %+v does not follow %+v", next.Topic, next.Partition, w, old)
			}
		}
	}
}

func parseView(input string) (View, error) {
	v := View{Sessions: map[int32]Session{}}
	for _, line := range strings.Split(input, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kv, flags := fields(f[2:])
		var err error
		switch f[0] {
		case "broker":
			err = v.parseBroker(f[1], kv, flags)
		case "topic":
			err = v.parseTopic(f[1], kv)
		case "partition":
			err = v.parsePartition(f[1], kv)
		case "deleted":
			v.Snapshot.Deleted = append(v.Snapshot.Deleted, f[1])
		default:
			err = fmt.Errorf("unknown item %q", f[0])
		}
		if err != nil {
			return v, fmt.Errorf("%q: %w", line, err)
		}
	}
	return v, nil
}

// fields splits k=v fields from bare words.
func fields(f []string) (map[string]string, []string) {
	kv := map[string]string{}
	var flags []string
	for _, s := range f {
		if k, val, ok := strings.Cut(s, "="); ok {
			kv[k] = val
		} else {
			flags = append(flags, s)
		}
	}
	return kv, flags
}

func (v *View) parseBroker(id string, kv map[string]string, flags []string) error {
	n, err := strconv.ParseInt(id, 10, 32)
	if err != nil || len(flags) != 1 {
		return fmt.Errorf("want broker <id> ... <state>")
	}
	b := BrokerInfo{ID: int32(n), Addr: "b" + id + ":9092", Rack: kv["rack"]}
	if s, ok := kv["session"]; ok {
		if b.SessionEpoch, err = strconv.ParseInt(s, 10, 64); err != nil {
			return err
		}
	}
	rec := lease.Record{Name: BrokerLease(b.ID), Holder: "broker/" + id + "/x", RVN: "rvn-" + id, Epoch: b.SessionEpoch, Duration: 10 * time.Second}
	switch flags[0] {
	case "alive":
		v.Sessions[b.ID] = Session{Lease: rec, Alive: true}
	case "lapsed":
		v.Sessions[b.ID] = Session{Lease: rec}
	case "released":
		rec.Holder = ""
		v.Sessions[b.ID] = Session{Lease: rec}
	case "fenced":
		b.Fenced = true
	case "no-lease":
	default:
		return fmt.Errorf("unknown broker state %q", flags[0])
	}
	v.Snapshot.Brokers = append(v.Snapshot.Brokers, b)
	return nil
}

func (v *View) parseTopic(name string, kv map[string]string) error {
	t := meta.Topic{Name: name, Configs: map[string]string{}}
	for k, val := range kv {
		switch k {
		case "partitions", "rf":
			n, err := strconv.ParseInt(val, 10, 16)
			if err != nil {
				return err
			}
			if k == "rf" {
				t.ReplicationFactor = int16(n)
			} else {
				t.Partitions = int32(n)
			}
		default:
			t.Configs[k] = val
		}
	}
	v.Snapshot.Topics = append(v.Snapshot.Topics, t)
	return nil
}

func (v *View) parsePartition(name string, kv map[string]string) error {
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		return fmt.Errorf("want <topic>/<partition>, got %q", name)
	}
	st := PartitionState{Topic: name[:i]}
	ints := map[string]*int64{}
	var p, epoch int64
	ints["epoch"], ints["session"], ints["version"] = &epoch, &st.LeaderSession, &st.Version
	var err error
	if p, err = strconv.ParseInt(name[i+1:], 10, 32); err != nil {
		return err
	}
	for k, dst := range ints {
		if *dst, err = strconv.ParseInt(kv[k], 10, 64); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
	}
	st.Partition, st.LeaderEpoch = int32(p), int32(epoch)
	if st.Replicas, err = ids(kv["replicas"]); err != nil {
		return err
	}
	if st.ISR, err = ids(kv["isr"]); err != nil {
		return err
	}
	st.Leader = NoLeader
	if kv["leader"] != "none" {
		n, err := strconv.ParseInt(kv["leader"], 10, 32)
		if err != nil {
			return fmt.Errorf("leader: %w", err)
		}
		st.Leader = int32(n)
	}
	v.Snapshot.Partitions = append(v.Snapshot.Partitions, st)
	return nil
}

func ids(s string) ([]int32, error) {
	var out []int32
	for _, f := range strings.Split(s, ",") {
		if f == "" {
			continue
		}
		n, err := strconv.ParseInt(f, 10, 32)
		if err != nil {
			return nil, err
		}
		out = append(out, int32(n))
	}
	return out, nil
}

func formatIDs(v []int32) string {
	s := make([]string, len(v))
	for i, id := range v {
		s[i] = strconv.Itoa(int(id))
	}
	return strings.Join(s, ",")
}

func formatLeader(id int32) string {
	if id == NoLeader {
		return "none"
	}
	return strconv.Itoa(int(id))
}

func formatPlan(p Plan) string {
	var b strings.Builder
	for _, f := range p.Fence {
		take := "take-over=" + f.Lease.RVN
		if f.Lease.Holder == "" {
			take = "released"
		}
		fmt.Fprintf(&b, "fence %d session=%d %s\n", f.Broker.ID, f.Broker.SessionEpoch, take)
	}
	for _, st := range p.Delete {
		fmt.Fprintf(&b, "delete %s/%d version=%d\n", st.Topic, st.Partition, st.Version)
	}
	for _, name := range p.Drop {
		fmt.Fprintf(&b, "drop %s\n", name)
	}
	for _, w := range p.Elect {
		n := w.Next
		fmt.Fprintf(&b, "elect %s/%d leader=%s epoch=%d isr=%s session=%d expect-version=%d\n",
			n.Topic, n.Partition, formatLeader(n.Leader), n.LeaderEpoch, formatIDs(n.ISR), n.LeaderSession, w.ExpectVersion)
	}
	for _, w := range p.Place {
		n := w.Next
		fmt.Fprintf(&b, "place %s/%d replicas=%s leader=%d isr=%s session=%d expect-version=%d\n",
			n.Topic, n.Partition, formatIDs(n.Replicas), n.Leader, formatIDs(n.ISR), n.LeaderSession, w.ExpectVersion)
	}
	for _, w := range p.Warnings {
		fmt.Fprintf(&b, "warn %s: %v\n", w.Topic, w.Err)
	}
	if b.Len() == 0 {
		return "no writes\n"
	}
	return b.String()
}
