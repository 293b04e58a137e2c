package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// consumeOptions is the validated consume command line.
type consumeOptions struct {
	topic       string
	security    []kgo.Opt // TLS and SASL (connFlags.clientOpts)
	partition   int32     // -1: all partitions
	start       startOffset
	maxMessages int64         // 0: no limit
	idleTimeout time.Duration // 0: wait forever
	format      recordFormat
	group       string
	// Group member settings, 0 for the client defaults.
	sessionTimeout time.Duration
	commitInterval time.Duration
}

func runConsume(ctx context.Context, args []string, env Env) error {
	c := newCommand("consume", "consume --topic T [flags]",
		"Print records of a topic to stdout, by default the value only, one per line. Starts\n"+
			"at the end of each partition (new records only) unless --from-beginning or --offset\n"+
			"says otherwise, and runs until interrupted, --max-messages or --timeout-ms.\n"+
			"Records of one partition are printed in offset order.",
		`  kafki consume --topic orders --from-beginning
  kafki consume --topic orders --from-beginning --max-messages 10 --timeout-ms 5000
  kafki consume --topic orders --partition 2 --offset 42
  kafki consume --topic orders --print-key --key-separator ' => '
  kafki consume --topic orders --format '%t/%p@%o %k=%v [%h] %T\n'
  kafki consume --topic orders --group billing`)
	var conn connFlags
	conn.register(c, env.Getenv)
	topic := c.fs.String("topic", "", "Topic to consume (required).")
	fromBeginning := c.fs.Bool("from-beginning", false, "Start at the earliest record (or, with --group, where the group has no committed offset).")
	partition := c.fs.Int("partition", -1, "Consume only this partition; -1 consumes all.")
	offset := c.fs.String("offset", "", "Where to start: earliest, latest or an offset (a number needs --partition).")
	maxMessages := c.fs.Int64("max-messages", 0, "Exit after printing this many records; 0 means no limit.")
	timeoutMs := c.fs.Int64("timeout-ms", 0, "Exit after this many milliseconds without a record; 0 waits forever.")
	format := c.fs.String("format", "", formatHelp)
	printKey := c.fs.Bool("print-key", false, "Print the key before the value, separated by --key-separator.")
	keySep := c.fs.String("key-separator", `\t`, `Separator between key and value with --print-key (\t and \n escapes allowed).`)
	group := c.fs.String("group", "", "Consume as a member of this consumer group, starting from its committed offsets and committing what was printed on exit.")
	sessionTimeout := c.fs.Duration("session-timeout", 0, "With --group: the member's session timeout (session.timeout.ms); 0 is the client default, 45s.")
	commitInterval := c.fs.Duration("commit-interval", 0, "With --group: how often printed records are committed while running (auto.commit.interval.ms); 0 is the default, 5s.")
	if err := c.parse(args, env.Stdout); err != nil {
		return err
	}
	if (*sessionTimeout != 0 || *commitInterval != 0) && *group == "" {
		return usagef("--session-timeout and --commit-interval need --group")
	}
	if *sessionTimeout < 0 || *commitInterval < 0 {
		return usagef("--session-timeout and --commit-interval must not be negative")
	}
	if *commitInterval != 0 && *commitInterval < 100*time.Millisecond {
		return usagef("--commit-interval %v: must be at least 100ms", *commitInterval)
	}
	o, err := validateConsume(consumeFlags{
		topic: *topic, fromBeginning: *fromBeginning, partition: *partition,
		offset: *offset, offsetSet: c.isSet("offset"),
		maxMessages: *maxMessages, timeoutMs: *timeoutMs,
		format: *format, formatSet: c.isSet("format"),
		printKey: *printKey, keySep: *keySep, keySepSet: c.isSet("key-separator"),
		group: *group,
	})
	if err != nil {
		return err
	}
	o.sessionTimeout, o.commitInterval = *sessionTimeout, *commitInterval
	seeds, err := conn.seeds()
	if err != nil {
		return err
	}
	if o.security, err = conn.clientOpts(); err != nil {
		return err
	}
	return consume(ctx, seeds, conn.timeout, o, env.Stdout)
}

// consumeFlags is the raw consume command line.
type consumeFlags struct {
	topic         string
	fromBeginning bool
	partition     int
	offset        string
	offsetSet     bool
	maxMessages   int64
	timeoutMs     int64
	format        string
	formatSet     bool
	printKey      bool
	keySep        string
	keySepSet     bool
	group         string
}

// validateConsume checks every consume flag before anything connects.
func validateConsume(f consumeFlags) (consumeOptions, error) {
	o := consumeOptions{topic: f.topic, group: f.group, partition: -1}
	if err := requireTopic(f.topic); err != nil {
		return o, err
	}
	if f.partition < -1 || f.partition > math.MaxInt32 {
		return o, usagef("--partition must be a partition number (0 or more), got %d", f.partition)
	}
	o.partition = int32(f.partition)
	switch {
	case f.offsetSet && f.fromBeginning:
		return o, usagef("--from-beginning and --offset cannot be used together")
	case f.offsetSet:
		start, err := parseOffset(f.offset)
		if err != nil {
			return o, err
		}
		if start.kind == offsetExact && o.partition < 0 {
			return o, usagef("--offset %d needs --partition: offsets are per partition", start.exact)
		}
		o.start = start
	case f.fromBeginning:
		o.start = startOffset{kind: offsetEarliest}
	default:
		o.start = startOffset{kind: offsetLatest}
	}
	if f.group != "" && (o.partition >= 0 || f.offsetSet) {
		return o, usagef("--group cannot be used with --partition or --offset: the group assigns partitions and tracks offsets")
	}
	if f.maxMessages < 0 {
		return o, usagef("--max-messages must not be negative, got %d", f.maxMessages)
	}
	o.maxMessages = f.maxMessages
	if f.timeoutMs < 0 {
		return o, usagef("--timeout-ms must not be negative, got %d", f.timeoutMs)
	}
	o.idleTimeout = time.Duration(f.timeoutMs) * time.Millisecond

	switch {
	case f.formatSet && (f.printKey || f.keySepSet):
		return o, usagef("--format cannot be combined with --print-key or --key-separator")
	case f.formatSet:
		format, err := compileFormat(f.format)
		if err != nil {
			return o, usagef("--format %q: %v", f.format, err)
		}
		o.format = format
	case f.keySepSet && !f.printKey:
		return o, usagef("--key-separator only applies with --print-key")
	case f.printKey:
		sep, err := unescape(f.keySep)
		if err != nil {
			return o, usagef("--key-separator %q: %v", f.keySep, err)
		}
		o.format = keyValueFormat(sep)
	default:
		o.format = valueOnlyFormat()
	}
	return o, nil
}

// consume checks the topic (and group coordinator) exist, then prints
// records until a stop condition. An interrupt is a clean stop.
func consume(ctx context.Context, seeds []string, timeout time.Duration, o consumeOptions, stdout io.Writer) error {
	// Checks run on a plain client first: a consuming client starts
	// fetching (or joining its group) in the background as soon as it
	// exists, which we do not want for a topic that is not there.
	if err := checkConsumable(ctx, seeds, timeout, o); err != nil {
		return err
	}

	reset := kgo.NewOffset().AtEnd()
	if o.start.kind == offsetEarliest {
		reset = kgo.NewOffset().AtStart()
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.ClientID("kafki"),
		kgo.SoftwareNameAndVersion("kafki", Version),
		kgo.DialTimeout(timeout),
		kgo.RequestTimeoutOverhead(timeout),
		kgo.ConsumeResetOffset(reset), // also where an out-of-range offset resets to
	}
	opts = append(opts, o.security...)
	switch {
	case o.group != "":
		opts = append(opts, kgo.ConsumerGroup(o.group), kgo.ConsumeTopics(o.topic), kgo.AutoCommitMarks())
		if o.sessionTimeout > 0 {
			opts = append(opts, kgo.SessionTimeout(o.sessionTimeout), kgo.HeartbeatInterval(max(o.sessionTimeout/10, 10*time.Millisecond)))
		}
		if o.commitInterval > 0 {
			opts = append(opts, kgo.AutoCommitInterval(o.commitInterval))
		}
	case o.partition >= 0:
		opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
			o.topic: {o.partition: o.start.kgoOffset()},
		}))
	default:
		opts = append(opts, kgo.ConsumeTopics(o.topic))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("configure consumer: %w", err)
	}
	defer cl.Close()

	pollErr := pollLoop(ctx, cl, o, stdout)
	if o.group != "" {
		// Commit what was printed, even after an interrupt, bounded so a
		// vanished coordinator cannot hang the exit.
		commitCtx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := cl.CommitMarkedOffsets(commitCtx); err != nil && pollErr == nil {
			pollErr = fmt.Errorf("commit offsets of group %q: %w", o.group, brokerError(err, "", seeds, timeout))
		}
	}
	return pollErr
}

// checkConsumable verifies the topic, partition and group coordinator.
func checkConsumable(ctx context.Context, seeds []string, timeout time.Duration, o consumeOptions) error {
	s, err := connect(ctx, seeds, timeout, o.security...)
	if err != nil {
		return err
	}
	defer s.close()
	n, err := s.topicPartitions(ctx, o.topic)
	if err != nil {
		return err
	}
	if o.partition >= int32(n) {
		return fmt.Errorf("topic %q has %d partitions; --partition %d does not exist", o.topic, n, o.partition)
	}
	if o.group == "" {
		return nil
	}
	findCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resps := s.adm.FindGroupCoordinators(findCtx, o.group)
	if err := resps.Error(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if isUnsupported(err) {
			return fmt.Errorf("%w for group %q: the broker does not support consumer groups (FindCoordinator)", ErrCoordinatorUnavailable, o.group)
		}
		return fmt.Errorf("%w for group %q: %w", ErrCoordinatorUnavailable, o.group, s.wrap(err, ""))
	}
	return nil
}

// pollLoop prints records until --max-messages, --timeout-ms, an interrupt
// or a fetch error that franz-go does not retry.
func pollLoop(ctx context.Context, cl *kgo.Client, o consumeOptions, stdout io.Writer) error {
	w := bufio.NewWriter(stdout)
	var (
		printed int64
		buf     []byte
		// idleDeadline moves forward whenever a record arrives: the
		// consumer exits once --timeout-ms passes without one.
		idleDeadline = time.Now().Add(o.idleTimeout)
	)
	for {
		limit := -1
		if o.maxMessages > 0 {
			limit = int(min(o.maxMessages-printed, math.MaxInt32))
		}
		pollCtx, cancel := ctx, context.CancelFunc(func() {})
		if o.idleTimeout > 0 {
			pollCtx, cancel = context.WithDeadline(ctx, idleDeadline)
		}
		fetches := cl.PollRecords(pollCtx, limit)
		cancel()

		var fetchErr error
		fetches.EachError(func(topic string, partition int32, err error) {
			if fetchErr != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, kgo.ErrClientClosed) {
				return
			}
			if isUnknownTopic(err) {
				fetchErr = fmt.Errorf("%w %q (was it deleted?)", ErrUnknownTopic, topic)
				return
			}
			fetchErr = fmt.Errorf("fetch %s[%d]: %w", topic, partition, err)
		})
		n := 0
		fetches.EachRecord(func(r *kgo.Record) {
			buf = o.format.appendRecord(buf[:0], r)
			w.Write(buf)
			n++
		})
		printed += int64(n)
		if n > 0 {
			idleDeadline = time.Now().Add(o.idleTimeout)
		}
		if err := w.Flush(); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
		if o.group != "" {
			// Only after the records are out: a commit must never cover
			// a record that a crash could still lose from the output.
			cl.MarkCommitRecords(fetches.Records()...)
		}
		switch {
		case fetchErr != nil:
			return fetchErr
		case o.maxMessages > 0 && printed >= o.maxMessages:
			return nil
		case ctx.Err() != nil:
			return nil // interrupted: a clean stop
		case o.idleTimeout > 0 && n == 0 && !time.Now().Before(idleDeadline):
			return nil // --timeout-ms passed without a record
		}
	}
}
