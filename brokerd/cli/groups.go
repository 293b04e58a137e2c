package cli

// kafki groups: list, describe, delete consumer groups and reset their
// offsets, in the layout of Kafka's kafka-consumer-groups.sh.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// groupsHelp is printed by "kafki groups --help".
const groupsHelp = `Usage: kafki groups <list|describe|delete|reset-offsets> [flags]

Manage consumer groups, like kafka-consumer-groups.sh. Run
'kafki groups <subcommand> --help' for the flags of each subcommand.
`

// ErrGroupActive: offsets can only be reset while nobody consumes.
var ErrGroupActive = errors.New("group is active")

func runGroupsList(ctx context.Context, args []string, env Env) error {
	c := newCommand("groups list", "groups list [flags]",
		"Print the id of every consumer group, sorted; with --state, a table of ids and states.",
		`  kafki groups list
  kafki groups list --state
  kafki groups list --state Stable,Empty`)
	var conn connFlags
	conn.register(c, env.Getenv)
	var state optionalString
	c.fs.Var(&state, "state", "Show each group's state; with a value, only groups in these comma-separated states.")
	if err := c.parse(args, env.Stdout); err != nil {
		return err
	}
	s, err := conn.connect(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	var filter []string
	if state.value != "" {
		filter = strings.Split(state.value, ",")
	}
	lctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	listed, err := s.adm.ListGroups(lctx, filter...)
	if err != nil {
		return fmt.Errorf("list groups: %w", s.wrap(err, ""))
	}
	w := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	if state.set {
		fmt.Fprintln(w, "GROUP\tSTATE")
	}
	for _, g := range listed.Sorted() {
		if state.set {
			fmt.Fprintf(w, "%s\t%s\n", g.Group, g.State)
		} else {
			fmt.Fprintln(w, g.Group)
		}
	}
	return w.Flush()
}

// optionalString is a flag usable bare (--state) or with a value.
type optionalString struct {
	set   bool
	value string
}

func (o *optionalString) String() string   { return o.value }
func (o *optionalString) IsBoolFlag() bool { return true }
func (o *optionalString) Set(v string) error {
	o.set = true
	if v != "true" {
		o.value = v
	}
	return nil
}

func runGroupsDescribe(ctx context.Context, args []string, env Env) error {
	c := newCommand("groups describe", "groups describe --group G [flags]",
		"Show a group's committed offsets, the log end offsets and the lag per partition, with\n"+
			"the member consuming each partition (kafka-consumer-groups --describe). --members\n"+
			"lists the members instead, --state the group's state.",
		`  kafki groups describe --group billing
  kafki groups describe --group billing --members
  kafki groups describe --group billing --state`)
	var conn connFlags
	conn.register(c, env.Getenv)
	group := c.fs.String("group", "", "The group to describe (required).")
	members := c.fs.Bool("members", false, "List the members: id, host, client id and partition count.")
	state := c.fs.Bool("state", false, "Show the group's coordinator, assignment strategy, state and member count.")
	if err := c.parse(args, env.Stdout); err != nil {
		return err
	}
	if *group == "" {
		return usagef("--group is required")
	}
	if *members && *state {
		return usagef("--members and --state cannot be used together")
	}
	s, err := conn.connect(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	dctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	d, err := describeGroup(dctx, s, *group)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	switch {
	case *state:
		fmt.Fprintln(w, "GROUP\tCOORDINATOR (ID)\tASSIGNMENT-STRATEGY\tSTATE\t#MEMBERS")
		fmt.Fprintf(w, "%s\t%s:%d (%d)\t%s\t%s\t%d\n", d.Group, d.Coordinator.Host, d.Coordinator.Port, d.Coordinator.NodeID, d.Protocol, d.State, len(d.Members))
		return w.Flush()
	case *members:
		fmt.Fprintln(w, "GROUP\tCONSUMER-ID\tHOST\tCLIENT-ID\t#PARTITIONS")
		for _, m := range d.Members {
			n := 0
			if ca, ok := m.Assigned.AsConsumer(); ok {
				for _, t := range ca.Topics {
					n += len(t.Partitions)
				}
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\n", d.Group, m.MemberID, m.ClientHost, m.ClientID, n)
		}
		return w.Flush()
	}
	rows, err := lagRows(dctx, s, d)
	if err != nil {
		return err
	}
	if len(d.Members) == 0 {
		fmt.Fprintf(env.Stderr, "Consumer group '%s' has no active members.\n", d.Group)
	}
	fmt.Fprintln(w, "GROUP\tTOPIC\tPARTITION\tCURRENT-OFFSET\tLOG-END-OFFSET\tLAG\tCONSUMER-ID\tHOST\tCLIENT-ID")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Group, r.topic, r.partition, r.current, r.end, r.lag, r.member, r.host, r.client)
	}
	return w.Flush()
}

func describeGroup(ctx context.Context, s *session, group string) (kadm.DescribedGroup, error) {
	ds, err := s.adm.DescribeGroups(ctx, group)
	if err != nil {
		return kadm.DescribedGroup{}, fmt.Errorf("describe group %q: %w", group, s.wrap(err, ""))
	}
	d := ds[group]
	if d.Err != nil {
		return d, fmt.Errorf("describe group %q: %w", group, s.wrap(d.Err, d.ErrMessage))
	}
	if d.State == "Dead" {
		return d, fmt.Errorf("consumer group %q does not exist", group)
	}
	return d, nil
}

// lagRow is one line of the describe table; "-" where unknown.
type lagRow struct {
	topic                string
	partition            int32
	current, end, lag    string
	member, host, client string
}

// lagRows joins the assignment, the committed offsets and the log end
// offsets of every partition that is assigned or has a commit.
func lagRows(ctx context.Context, s *session, d kadm.DescribedGroup) ([]lagRow, error) {
	owner := map[string]map[int32]kadm.DescribedGroupMember{}
	for _, m := range d.Members {
		ca, ok := m.Assigned.AsConsumer()
		if !ok {
			continue
		}
		for _, t := range ca.Topics {
			for _, p := range t.Partitions {
				if owner[t.Topic] == nil {
					owner[t.Topic] = map[int32]kadm.DescribedGroupMember{}
				}
				owner[t.Topic][p] = m
			}
		}
	}
	committed, err := s.adm.FetchOffsets(ctx, d.Group)
	if err != nil {
		return nil, fmt.Errorf("fetch offsets of %q: %w", d.Group, s.wrap(err, ""))
	}
	type tp struct {
		t string
		p int32
	}
	keys := map[tp]bool{}
	topicSet := map[string]bool{}
	for t, ps := range owner {
		topicSet[t] = true
		for p := range ps {
			keys[tp{t, p}] = true
		}
	}
	committed.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil && o.At >= 0 {
			keys[tp{o.Topic, o.Partition}] = true
			topicSet[o.Topic] = true
		}
	})
	var topics []string
	for t := range topicSet {
		topics = append(topics, t)
	}
	ends := kadm.ListedOffsets{}
	if len(topics) > 0 {
		if ends, err = s.adm.ListEndOffsets(ctx, topics...); err != nil {
			return nil, fmt.Errorf("list end offsets: %w", s.wrap(err, ""))
		}
	}
	var rows []lagRow
	for k := range keys {
		r := lagRow{topic: k.t, partition: k.p, current: "-", end: "-", lag: "-", member: "-", host: "-", client: "-"}
		cur, hasCur := committed.Lookup(k.t, k.p)
		if hasCur && cur.Err == nil && cur.At >= 0 {
			r.current = strconv.FormatInt(cur.At, 10)
		} else {
			hasCur = false
		}
		if e, ok := ends.Lookup(k.t, k.p); ok && e.Err == nil {
			r.end = strconv.FormatInt(e.Offset, 10)
			if hasCur {
				r.lag = strconv.FormatInt(max(e.Offset-cur.At, 0), 10)
			}
		}
		if m, ok := owner[k.t][k.p]; ok {
			r.member, r.host, r.client = m.MemberID, m.ClientHost, m.ClientID
		}
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].topic != rows[j].topic {
			return rows[i].topic < rows[j].topic
		}
		return rows[i].partition < rows[j].partition
	})
	return rows, nil
}

func runGroupsDelete(ctx context.Context, args []string, env Env) error {
	c := newCommand("groups delete", "groups delete --group G [--group G2 ...]",
		"Delete consumer groups and their committed offsets. Only groups without active\n"+
			"members can be deleted.",
		`  kafki groups delete --group billing`)
	var conn connFlags
	conn.register(c, env.Getenv)
	var groups stringList
	c.fs.Var(&groups, "group", "A group to delete (required); repeat for several.")
	if err := c.parse(args, env.Stdout); err != nil {
		return err
	}
	if len(groups) == 0 {
		return usagef("--group is required")
	}
	s, err := conn.connect(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	dctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	resps, err := s.adm.DeleteGroups(dctx, groups...)
	if err != nil {
		return fmt.Errorf("delete groups: %w", s.wrap(err, ""))
	}
	var failed []string
	for _, g := range groups {
		if r := resps[g]; r.Err != nil {
			failed = append(failed, fmt.Sprintf("%s: %s", g, oneLine(s.wrap(r.Err, "").Error())))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("delete groups: %s", strings.Join(failed, "; "))
	}
	_, err = fmt.Fprintf(env.Stdout, "Deletion of requested consumer groups ('%s') was successful.\n", strings.Join(groups, "', '"))
	return err
}

// resetSpec is where reset-offsets moves each partition.
type resetSpec struct {
	kind   string // earliest, latest, offset, datetime
	offset int64
	millis int64
}

func runGroupsResetOffsets(ctx context.Context, args []string, env Env) error {
	c := newCommand("groups reset-offsets", "groups reset-offsets --group G (--topic T[:P,...] | --all-topics) --to-... [--execute]",
		"Move a group's committed offsets. Without --execute it only prints the plan (a dry\n"+
			"run). The group must have no active members. --to-offset is clamped to the\n"+
			"partition's [earliest, latest] range; --to-datetime picks the first record at or\n"+
			"after the time (latest when there is none).",
		`  kafki groups reset-offsets --group billing --topic orders --to-earliest
  kafki groups reset-offsets --group billing --topic orders:0,2 --to-offset 42 --execute
  kafki groups reset-offsets --group billing --all-topics --to-datetime 2024-05-01T00:00:00Z --execute`)
	var conn connFlags
	conn.register(c, env.Getenv)
	group := c.fs.String("group", "", "The group whose offsets to reset (required).")
	var topicArgs stringList
	c.fs.Var(&topicArgs, "topic", "Topic to reset, optionally with partitions: orders or orders:0,1; repeat for several.")
	allTopics := c.fs.Bool("all-topics", false, "Reset every topic the group has committed offsets for.")
	toEarliest := c.fs.Bool("to-earliest", false, "Reset to the earliest offset.")
	toLatest := c.fs.Bool("to-latest", false, "Reset to the latest offset (skip everything so far).")
	toOffset := c.fs.Int64("to-offset", -1, "Reset to this offset.")
	toDatetime := c.fs.String("to-datetime", "", "Reset to the first record at or after this RFC 3339 time.")
	execute := c.fs.Bool("execute", false, "Apply the reset; without it the plan is only printed.")
	c.fs.Bool("dry-run", false, "Only print the plan (the default).")
	if err := c.parse(args, env.Stdout); err != nil {
		return err
	}
	if *group == "" {
		return usagef("--group is required")
	}
	if (len(topicArgs) > 0) == *allTopics {
		return usagef("give either --topic or --all-topics")
	}
	if *execute && c.isSet("dry-run") {
		return usagef("--execute and --dry-run cannot be used together")
	}
	var spec resetSpec
	n := 0
	if *toEarliest {
		spec.kind, n = "earliest", n+1
	}
	if *toLatest {
		spec.kind, n = "latest", n+1
	}
	if c.isSet("to-offset") {
		if *toOffset < 0 {
			return usagef("--to-offset must not be negative, got %d", *toOffset)
		}
		spec.kind, spec.offset, n = "offset", *toOffset, n+1
	}
	if *toDatetime != "" {
		ts, err := time.Parse(time.RFC3339, *toDatetime)
		if err != nil {
			return usagef("--to-datetime %q: want RFC 3339, like 2024-05-01T12:00:00Z", *toDatetime)
		}
		spec.kind, spec.millis, n = "datetime", ts.UnixMilli(), n+1
	}
	if n != 1 {
		return usagef("give exactly one of --to-earliest, --to-latest, --to-offset, --to-datetime")
	}
	wanted, err := parseTopicPartitions(topicArgs)
	if err != nil {
		return err
	}
	s, err := conn.connect(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	rctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	plan, err := resetPlan(rctx, s, *group, wanted, *allTopics, spec)
	if err != nil {
		return err
	}
	if *execute {
		ds, err := s.adm.DescribeGroups(rctx, *group)
		if err != nil {
			return fmt.Errorf("describe group %q: %w", *group, s.wrap(err, ""))
		}
		if st := ds[*group].State; st != "Empty" && st != "Dead" {
			return fmt.Errorf("%w: offsets of %q can only be reset while it has no members, but its state is %s", ErrGroupActive, *group, st)
		}
		resps, err := s.adm.CommitOffsets(rctx, *group, plan)
		if err != nil {
			return fmt.Errorf("commit offsets of %q: %w", *group, s.wrap(err, ""))
		}
		if err := resps.Error(); err != nil {
			return fmt.Errorf("commit offsets of %q: %w", *group, s.wrap(err, ""))
		}
	} else {
		fmt.Fprintln(env.Stderr, "Dry run: nothing changed; add --execute to apply.")
	}
	return writePlan(env.Stdout, *group, plan)
}

// parseTopicPartitions parses "topic" and "topic:0,1" arguments; a nil
// partition list means every partition.
func parseTopicPartitions(args []string) (map[string][]int32, error) {
	out := map[string][]int32{}
	for _, a := range args {
		name, parts, found := strings.Cut(a, ":")
		if name == "" {
			return nil, usagef("--topic %q: empty topic name", a)
		}
		if !found {
			out[name] = nil
			continue
		}
		for _, p := range strings.Split(parts, ",") {
			n, err := strconv.ParseInt(strings.TrimSpace(p), 10, 32)
			if err != nil || n < 0 {
				return nil, usagef("--topic %q: %q is not a partition number", a, p)
			}
			out[name] = append(out[name], int32(n))
		}
	}
	return out, nil
}

// resetPlan computes the new offset of every partition to reset.
func resetPlan(ctx context.Context, s *session, group string, wanted map[string][]int32, all bool, spec resetSpec) (kadm.Offsets, error) {
	if all {
		committed, err := s.adm.FetchOffsets(ctx, group)
		if err != nil {
			return nil, fmt.Errorf("fetch offsets of %q: %w", group, s.wrap(err, ""))
		}
		committed.Each(func(o kadm.OffsetResponse) {
			if o.Err == nil {
				wanted[o.Topic] = append(wanted[o.Topic], o.Partition)
			}
		})
		if len(wanted) == 0 {
			return nil, fmt.Errorf("group %q has no committed offsets to reset", group)
		}
	}
	var topics []string
	for t := range wanted {
		topics = append(topics, t)
	}
	starts, err := s.adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list start offsets: %w", s.wrap(err, ""))
	}
	ends, err := s.adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list end offsets: %w", s.wrap(err, ""))
	}
	var after kadm.ListedOffsets
	if spec.kind == "datetime" {
		if after, err = s.adm.ListOffsetsAfterMilli(ctx, spec.millis, topics...); err != nil {
			return nil, fmt.Errorf("list offsets by time: %w", s.wrap(err, ""))
		}
	}
	plan := kadm.Offsets{}
	for _, t := range topics {
		parts := wanted[t]
		if parts == nil {
			for p := range ends[t] {
				parts = append(parts, p)
			}
			if len(parts) == 0 {
				return nil, fmt.Errorf("%w %q", ErrUnknownTopic, t)
			}
		}
		for _, p := range parts {
			start, ok1 := starts.Lookup(t, p)
			end, ok2 := ends.Lookup(t, p)
			if !ok1 || !ok2 || start.Err != nil || end.Err != nil {
				return nil, fmt.Errorf("%w: %s partition %d", ErrUnknownTopic, t, p)
			}
			var off int64
			switch spec.kind {
			case "earliest":
				off = start.Offset
			case "latest":
				off = end.Offset
			case "offset":
				off = min(max(spec.offset, start.Offset), end.Offset)
			case "datetime":
				off = end.Offset
				if a, ok := after.Lookup(t, p); ok && a.Err == nil && a.Offset >= 0 {
					off = a.Offset
				}
			}
			plan.AddOffset(t, p, off, -1)
		}
	}
	return plan, nil
}

func writePlan(out io.Writer, group string, plan kadm.Offsets) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "GROUP\tTOPIC\tPARTITION\tNEW-OFFSET")
	var rows []kadm.Offset
	plan.Each(func(o kadm.Offset) { rows = append(rows, o) })
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Topic != rows[j].Topic {
			return rows[i].Topic < rows[j].Topic
		}
		return rows[i].Partition < rows[j].Partition
	})
	for _, o := range rows {
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\n", group, o.Topic, o.Partition, o.At)
	}
	return w.Flush()
}
