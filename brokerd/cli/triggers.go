package cli

// kafki triggers: Lambda triggers (lambdas/triggers) in the cluster's
// metadata store, managed through a broker's admin endpoint (its HTTP
// listener, --metrics.listen, 127.0.0.1:9644 by default): the only part
// of a broker that can write its metadata store, embedded or DynamoDB.
// describe also reads the trigger's consumer group through the Kafka
// protocol for the lag per partition.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kafki/kafki/lambdas/triggers"
)

const triggersHelp = `Usage: kafki triggers <create|list|describe|update|delete|enable|disable> [flags]

Manage Lambda triggers: consumer groups that invoke a function with AWS's
self-managed Kafka event (see lambdas/README.md). A broker started with
--triggers.enable, or kafki-triggers, runs them. The definitions live in
the cluster's metadata store, reached through a broker's admin endpoint
(--admin, default http://<bootstrap host>:9644, or $KAFKI_ADMIN).
`

const adminEnv = "KAFKI_ADMIN"

// triggerFlags are the flags every triggers subcommand shares.
type triggerFlags struct {
	conn   connFlags
	admin  string
	id     string
	needID bool
}

func (f *triggerFlags) register(c *command, env Env, needID bool) {
	f.conn.register(c, env.Getenv)
	c.fs.StringVar(&f.admin, "admin", env.Getenv(adminEnv), "Broker admin endpoint URL (default http://<first bootstrap host>:9644; env "+adminEnv+").")
	if f.needID = needID; needID {
		c.fs.StringVar(&f.id, "trigger", "", "The trigger's id (required).")
	}
}

// parse parses args, requires --trigger where the command takes one, and
// returns the store the command works on.
func (f *triggerFlags) parse(c *command, args []string, env Env) (*triggers.Client, error) {
	if err := c.parse(args, env.Stdout); err != nil {
		return nil, err
	}
	if f.needID && f.id == "" {
		return nil, usagef("--trigger is required")
	}
	return f.store()
}

func (f *triggerFlags) store() (*triggers.Client, error) {
	seeds, err := f.conn.seeds()
	if err != nil {
		return nil, err
	}
	base := f.admin
	if base == "" {
		host, _, err := net.SplitHostPort(seeds[0])
		if err != nil {
			host = seeds[0]
		}
		base = "http://" + net.JoinHostPort(host, "9644")
	}
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	return &triggers.Client{Base: base}, nil
}

// defFlags are the definition's settings as flags.
type defFlags struct {
	function, start, startTS, group, onFailure string
	topics, filters                            stringList
	batchSize, maxPayload, retries             int
	window, maxAge                             time.Duration
	bisect, disabled                           bool
}

func (d *defFlags) register(c *command) {
	c.fs.StringVar(&d.function, "function", "", "Function name or ARN.")
	c.fs.Var(&d.topics, "topic", "Topic to consume (repeatable, or comma-separated).")
	c.fs.IntVar(&d.batchSize, "batch-size", triggers.DefaultBatchSize, "Most records per invocation (1-10000).")
	c.fs.IntVar(&d.maxPayload, "max-payload-bytes", triggers.MaxPayloadBytes, "Payload cap per invocation (at most 6 MB).")
	c.fs.DurationVar(&d.window, "batching-window", triggers.DefaultBatchingWindow, "How long a batch waits to fill (0-300s).")
	c.fs.StringVar(&d.start, "starting-position", triggers.Latest, "TRIM_HORIZON, LATEST or AT_TIMESTAMP; used only when the group has no committed offset.")
	c.fs.StringVar(&d.startTS, "starting-timestamp", "", "With AT_TIMESTAMP: RFC 3339 time.")
	c.fs.StringVar(&d.group, "group", "", "Consumer group id (default kafki-trigger-<id>).")
	c.fs.IntVar(&d.retries, "max-retry-attempts", -1, "Retries of a failing batch before the failure destination (-1: until the record expires).")
	c.fs.DurationVar(&d.maxAge, "max-record-age", 0, "Records older than this go to the failure destination (0: never; else 60s-168h).")
	c.fs.StringVar(&d.onFailure, "on-failure", "", "kafka://<dead-letter topic>, s3://<bucket> or arn:aws:s3:::<bucket>.")
	c.fs.BoolVar(&d.bisect, "bisect-on-error", false, "Split a failing batch in two and retry each half.")
	c.fs.Var(&d.filters, "filter", "Lambda event-filtering pattern on the record (repeatable; any match passes), e.g. '{\"value\":{\"kind\":[\"order\"]}}'.")
	c.fs.BoolVar(&d.disabled, "disabled", false, "Create the trigger disabled.")
}

// apply copies the flags given (all of them when all) onto def.
func (d *defFlags) apply(c *command, def *triggers.Definition, all bool) error {
	set := func(name string) bool { return all || c.isSet(name) }
	if set("function") {
		def.Function = d.function
	}
	if set("topic") {
		def.Topics = nil
		for _, t := range d.topics {
			for _, p := range strings.Split(t, ",") {
				if p = strings.TrimSpace(p); p != "" {
					def.Topics = append(def.Topics, p)
				}
			}
		}
	}
	if set("batch-size") {
		def.BatchSize = d.batchSize
	}
	if set("max-payload-bytes") {
		def.MaxPayloadBytes = d.maxPayload
	}
	if set("batching-window") {
		def.BatchingWindow = triggers.MillisOf(d.window)
	}
	if set("starting-position") {
		def.StartingPosition = strings.ToUpper(d.start)
	}
	if set("starting-timestamp") && d.startTS != "" {
		ts, err := time.Parse(time.RFC3339, d.startTS)
		if err != nil {
			return usagef("--starting-timestamp %q: not an RFC 3339 time", d.startTS)
		}
		def.StartingTimestamp = ts
	}
	if set("group") {
		def.GroupID = d.group
	}
	if set("max-retry-attempts") {
		def.MaxRetryAttempts = d.retries
	}
	if set("max-record-age") {
		def.MaxRecordAge = triggers.MillisOf(d.maxAge)
	}
	if set("on-failure") {
		def.OnFailure = d.onFailure
	}
	if set("bisect-on-error") {
		def.BisectOnError = d.bisect
	}
	if set("filter") {
		def.Filters = append([]string(nil), d.filters...)
	}
	if all {
		def.Enabled = !d.disabled
	}
	return nil
}

func triggerErr(err error) error {
	if errors.Is(err, triggers.ErrInvalid) {
		return usagef("%s", strings.TrimPrefix(err.Error(), triggers.ErrInvalid.Error()+": "))
	}
	return err
}

func runTriggersCreate(ctx context.Context, args []string, env Env) error {
	c := newCommand("triggers create", "triggers create --trigger ID --function F --topic T [flags]",
		"Create a Lambda trigger: the function is invoked with batches of the topics' records.",
		`  kafki triggers create --trigger orders-sink --function dynamodb-sink --topic orders
  kafki triggers create --trigger audit --function recorder --topic orders --starting-position TRIM_HORIZON \
    --on-failure kafka://orders-dlq --max-retry-attempts 3 --bisect-on-error --filter '{"value":{"kind":["order"]}}'`)
	var f triggerFlags
	var d defFlags
	f.register(c, env, true)
	d.register(c)
	if err := c.parse(args, env.Stdout); err != nil {
		return err
	}
	def := triggers.NewDefinition(f.id, "")
	if err := d.apply(c, &def, true); err != nil {
		return err
	}
	if err := def.Validate(); err != nil {
		return triggerErr(err)
	}
	s, err := f.store()
	if err != nil {
		return err
	}
	t, err := triggers.Create(ctx, s, def)
	if err != nil {
		return triggerErr(err)
	}
	fmt.Fprintf(env.Stdout, "Created trigger %s (function %s, topics %s, group %s).\n", t.ID, t.Function, strings.Join(t.Topics, ","), t.Group())
	return nil
}

func runTriggersUpdate(ctx context.Context, args []string, env Env) error {
	c := newCommand("triggers update", "triggers update --trigger ID [flags]",
		"Change the settings given; the runners restart the trigger from its committed offsets.",
		`  kafki triggers update --trigger orders-sink --batch-size 500 --batching-window 1s`)
	var f triggerFlags
	var d defFlags
	f.register(c, env, true)
	d.register(c)
	s, err := f.parse(c, args, env)
	if err != nil {
		return err
	}
	var perr error
	t, err := triggers.Update(ctx, s, f.id, func(def *triggers.Definition) error {
		perr = d.apply(c, def, false)
		return perr
	})
	if perr != nil {
		return perr
	}
	if err != nil {
		return triggerErr(err)
	}
	fmt.Fprintf(env.Stdout, "Updated trigger %s (version %d).\n", t.ID, t.Version)
	return nil
}

func runTriggersEnable(enable bool) func(ctx context.Context, args []string, env Env) error {
	verb := map[bool]string{true: "enable", false: "disable"}[enable]
	return func(ctx context.Context, args []string, env Env) error {
		c := newCommand("triggers "+verb, "triggers "+verb+" --trigger ID [flags]",
			strings.ToUpper(verb[:1])+verb[1:]+" a trigger; a disabled trigger keeps its committed offsets.",
			"  kafki triggers "+verb+" --trigger orders-sink")
		var f triggerFlags
		f.register(c, env, true)
		s, err := f.parse(c, args, env)
		if err != nil {
			return err
		}
		if _, err := triggers.Update(ctx, s, f.id, func(d *triggers.Definition) error { d.Enabled = enable; return nil }); err != nil {
			return triggerErr(err)
		}
		fmt.Fprintf(env.Stdout, "Trigger %s %sd.\n", f.id, verb)
		return nil
	}
}

func runTriggersDelete(ctx context.Context, args []string, env Env) error {
	c := newCommand("triggers delete", "triggers delete --trigger ID [flags]",
		"Delete a trigger (its consumer group and offsets stay, like an AWS event source mapping's).",
		"  kafki triggers delete --trigger orders-sink")
	var f triggerFlags
	f.register(c, env, true)
	s, err := f.parse(c, args, env)
	if err != nil {
		return err
	}
	if err := s.DeleteTrigger(ctx, f.id, 0); err != nil {
		return triggerErr(err)
	}
	fmt.Fprintf(env.Stdout, "Deleted trigger %s.\n", f.id)
	return nil
}

func runTriggersList(ctx context.Context, args []string, env Env) error {
	c := newCommand("triggers list", "triggers list [flags]", "List triggers with their function, topics and state.", "  kafki triggers list")
	var f triggerFlags
	f.register(c, env, false)
	s, err := f.parse(c, args, env)
	if err != nil {
		return err
	}
	all, err := triggers.List(ctx, s)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "TRIGGER\tFUNCTION\tTOPICS\tENABLED\tSTATE\tLAST-RESULT")
	now := time.Now()
	for _, t := range all {
		st := t.Status.Current(now)
		fmt.Fprintf(w, "%s\t%s\t%s\t%t\t%s\t%s\n", t.ID, t.Function, strings.Join(t.Topics, ","), t.Enabled, dashIfEmpty(st.State), dashIfEmpty(st.LastResult))
	}
	return w.Flush()
}

func runTriggersDescribe(ctx context.Context, args []string, env Env) error {
	c := newCommand("triggers describe", "triggers describe --trigger ID [flags]",
		"Show a trigger's settings, its state, last result and error, and the lag of its group per partition.",
		"  kafki triggers describe --trigger orders-sink")
	var f triggerFlags
	f.register(c, env, true)
	s, err := f.parse(c, args, env)
	if err != nil {
		return err
	}
	t, err := triggers.Get(ctx, s, f.id)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	row := func(k string, v any) { fmt.Fprintf(w, "%s:\t%v\n", k, v) }
	row("Trigger", t.ID)
	row("Function", t.Function)
	row("Topics", strings.Join(t.Topics, ","))
	row("Group", t.Group())
	row("Enabled", t.Enabled)
	now := time.Now()
	st := t.Status.Current(now)
	row("State", dashIfEmpty(st.State))
	row("Last result", dashIfEmpty(st.LastResult))
	row("Last error", dashIfEmpty(st.LastError))
	if !st.LastInvoke.IsZero() {
		row("Last invoke", st.LastInvoke.Format(time.RFC3339))
	}
	row("Runner", dashIfEmpty(st.Runner))
	row("Delivered / to failure", fmt.Sprintf("%d / %d (by the runners below)", st.Delivered, st.ToFailure))
	row("Batch size / window", fmt.Sprintf("%d / %v", t.BatchSize, t.BatchingWindow.D()))
	row("Starting position", t.StartingPosition)
	row("Retries / record age", fmt.Sprintf("%d / %v", t.MaxRetryAttempts, t.MaxRecordAge.D()))
	row("On failure", dashIfEmpty(t.OnFailure))
	row("Bisect on error", t.BisectOnError)
	row("Filters", dashIfEmpty(strings.Join(t.Filters, " OR ")))
	row("Version", t.Version)
	if err := w.Flush(); err != nil {
		return err
	}
	if len(st.Instances) > 0 {
		fmt.Fprintln(env.Stdout)
		w = tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "INSTANCE\tSTATE\tPARTITIONS\tLAST-RESULT\tDELIVERED\tTO-FAILURE\tUPDATED")
		for _, e := range st.Instances {
			state := e.State
			if e.Expired(now) && e.State != triggers.StateStopped {
				state = "gone (last: " + e.State + ")" // stopped refreshing: killed or cut off
			}
			fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%d\t%d\t%s ago\n", e.Instance, state, e.Partitions, dashIfEmpty(e.LastResult),
				e.Delivered, e.ToFailure, now.Sub(e.UpdatedAt).Round(time.Second))
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	sess, err := f.conn.connect(ctx)
	if err != nil {
		fmt.Fprintf(env.Stderr, "lag unknown: %v\n", err)
		return nil
	}
	defer sess.close()
	dctx, cancel := context.WithTimeout(ctx, sess.timeout)
	defer cancel()
	committed, err := sess.adm.FetchOffsets(dctx, t.Group())
	if err != nil {
		fmt.Fprintf(env.Stderr, "lag unknown: %v\n", sess.wrap(err, ""))
		return nil
	}
	ends, err := sess.adm.ListEndOffsets(dctx, t.Topics...)
	if err != nil {
		fmt.Fprintf(env.Stderr, "lag unknown: %v\n", sess.wrap(err, ""))
		return nil
	}
	type rowT struct {
		topic     string
		p         int32
		cur, end  int64
		hasCommit bool
	}
	var rows []rowT
	ends.Each(func(o kadm.ListedOffset) {
		r := rowT{topic: o.Topic, p: o.Partition, end: o.Offset, cur: -1}
		if c, ok := committed.Lookup(o.Topic, o.Partition); ok && c.Err == nil && c.At >= 0 {
			r.cur, r.hasCommit = c.At, true
		}
		rows = append(rows, r)
	})
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].topic != rows[j].topic {
			return rows[i].topic < rows[j].topic
		}
		return rows[i].p < rows[j].p
	})
	fmt.Fprintln(env.Stdout)
	w = tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "TOPIC\tPARTITION\tCOMMITTED\tLOG-END-OFFSET\tLAG")
	for _, r := range rows {
		cur, lag := "-", "-"
		if r.hasCommit {
			cur, lag = fmt.Sprint(r.cur), fmt.Sprint(max(r.end-r.cur, 0))
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%d\t%s\n", r.topic, r.p, cur, r.end, lag)
	}
	return w.Flush()
}
