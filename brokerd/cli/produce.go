package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Producer limits and defaults.
const (
	// defaultBatchMaxBytes is franz-go's (and Kafka's) default batch size
	// cap, used when the topic's max.message.bytes cannot be learned.
	defaultBatchMaxBytes = 1_000_012
	minBatchMaxBytes     = 512
	maxBatchMaxBytes     = 1 << 30
	// maxBufferedBytes bounds the memory held by records not yet
	// acknowledged; reading stdin pauses when it is reached.
	maxBufferedBytes = 256 << 20
)

// produceOptions is the validated produce command line.
type produceOptions struct {
	topic           string
	security        []kgo.Opt // TLS and SASL (connFlags.clientOpts)
	keySep          []byte    // nil: lines have no key
	headers         []kgo.RecordHeader
	codec           kgo.CompressionCodec
	acks            acksMode
	idempotent      bool
	partition       int32 // -1: let the partitioner choose
	linger          time.Duration
	batchMaxBytes   int32 // 0: learn from the topic's max.message.bytes
	deliveryTimeout time.Duration
	verbose         bool
}

func runProduce(ctx context.Context, args []string, env Env) error {
	c := newCommand("produce", "produce --topic T [flags] < lines",
		"Send each line of stdin as one record and wait until the broker has acknowledged\n"+
			"all of them. Prints nothing on success unless --verbose is given; exits non-zero\n"+
			"with a one-line message if any record fails.",
		`  echo 'hello' | kafki produce --topic orders
  printf 'user1\t{"total":3}\n' | kafki produce --topic orders --key-separator '\t'
  kafki produce --topic orders --compression zstd --header source:batch --verbose < events.txt
  kafki produce --topic orders --partition 2 --acks 1 < events.txt`)
	var conn connFlags
	conn.register(c, env.Getenv)
	topic := c.fs.String("topic", "", "Topic to produce to (required).")
	keySep := c.fs.String("key-separator", "", `Split each line at the first occurrence of this separator into key and value (\t and \n escapes allowed). Without it, lines have no key.`)
	var headers stringList
	c.fs.Var(&headers, "header", "Header added to every record, as key:value; repeat for several.")
	compression := c.fs.String("compression", "none", "Batch compression: "+compressionNames+".")
	acks := c.fs.String("acks", "all", "Acknowledgement required from the broker: -1 or all, 0, 1.")
	partition := c.fs.Int("partition", -1, "Send every record to this partition; -1 lets the partitioner choose (by key hash, or spread when keyless).")
	lingerMs := c.fs.Int("linger-ms", 0, "Wait up to this many milliseconds to fill a batch before sending.")
	var idempotent optionalBool
	c.fs.Var(&idempotent, "idempotent", "Idempotent producer (no duplicates on retry); defaults to true with --acks all, and requires it.")
	batchMax := c.fs.Int("max-batch-bytes", 0, "Largest record batch to send, before compression; 0 uses the topic's max.message.bytes.")
	deliveryTimeoutMs := c.fs.Int("delivery-timeout-ms", 120_000, "Fail a record the broker has not acknowledged within this many milliseconds.")
	verbose := c.fs.Bool("verbose", false, "Print partition@offset of each acknowledged record.")
	if err := c.parse(args, env.Stdout); err != nil {
		return err
	}
	opts, err := validateProduce(*topic, *keySep, c.isSet("key-separator"), headers, *compression, *acks,
		idempotent, *partition, *lingerMs, *batchMax, *deliveryTimeoutMs)
	if err != nil {
		return err
	}
	opts.verbose = *verbose
	seeds, err := conn.seeds()
	if err != nil {
		return err
	}
	if opts.security, err = conn.clientOpts(); err != nil {
		return err
	}
	return produce(ctx, seeds, conn.timeout, opts, env)
}

// validateProduce checks every produce flag before anything connects.
func validateProduce(topic, keySep string, keySepSet bool, headers []string, compression, acks string,
	idempotent optionalBool, partition, lingerMs, batchMax, deliveryTimeoutMs int) (produceOptions, error) {
	var o produceOptions
	var err error
	if err := requireTopic(topic); err != nil {
		return o, err
	}
	o.topic = topic
	if keySepSet {
		sep, err := unescape(keySep)
		if err != nil {
			return o, usagef("--key-separator %q: %v", keySep, err)
		}
		if sep == "" {
			return o, usagef("--key-separator must not be empty")
		}
		o.keySep = []byte(sep)
	}
	if o.headers, err = parseHeaders(headers); err != nil {
		return o, err
	}
	if o.codec, err = parseCompression(compression); err != nil {
		return o, err
	}
	if o.acks, err = parseAcks(acks); err != nil {
		return o, err
	}
	o.idempotent = o.acks.all
	if idempotent.set {
		if idempotent.value && !o.acks.all {
			return o, usagef("--idempotent=true requires --acks all")
		}
		o.idempotent = idempotent.value
	}
	if partition < -1 || partition > math.MaxInt32 {
		return o, usagef("--partition must be a partition number (0 or more), got %d", partition)
	}
	o.partition = int32(partition)
	if lingerMs < 0 {
		return o, usagef("--linger-ms must not be negative, got %d", lingerMs)
	}
	o.linger = time.Duration(lingerMs) * time.Millisecond
	if batchMax != 0 && (batchMax < minBatchMaxBytes || batchMax > maxBatchMaxBytes) {
		return o, usagef("--max-batch-bytes must be between %d and %d, got %d", minBatchMaxBytes, maxBatchMaxBytes, batchMax)
	}
	o.batchMaxBytes = int32(batchMax)
	if deliveryTimeoutMs <= 0 {
		return o, usagef("--delivery-timeout-ms must be positive, got %d", deliveryTimeoutMs)
	}
	o.deliveryTimeout = time.Duration(deliveryTimeoutMs) * time.Millisecond
	return o, nil
}

// producer owns the state shared between the stdin loop and franz-go's
// delivery callbacks.
type producer struct {
	opts    produceOptions
	session *session

	mu      sync.Mutex // guards out and failure
	out     *bufio.Writer
	failure error // first delivery failure

	failed chan struct{} // closed on the first failure: stop reading
}

func produce(ctx context.Context, seeds []string, timeout time.Duration, o produceOptions, env Env) error {
	// The batch limit is only known after asking the broker, but client
	// options are fixed at construction: the callback reads it lazily.
	// franz-go consults it when a partition is first produced to, which is
	// after it is stored below.
	var batchMax atomic.Int32
	batchMax.Store(defaultBatchMaxBytes)
	popts := []kgo.Opt{
		kgo.AllowAutoTopicCreation(), // like Kafka's producer, if the broker permits it
		kgo.ProducerBatchCompression(o.codec),
		kgo.RequiredAcks(o.acks.acks),
		kgo.ProducerLinger(o.linger),
		kgo.RecordDeliveryTimeout(o.deliveryTimeout),
		kgo.MaxBufferedBytes(maxBufferedBytes),
		kgo.ProducerBatchMaxBytesFn(func(string) int32 { return batchMax.Load() }),
	}
	if !o.idempotent {
		popts = append(popts, kgo.DisableIdempotentWrite())
	}
	if o.partition >= 0 {
		popts = append(popts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	s, err := connect(ctx, seeds, timeout, append(popts, o.security...)...)
	if err != nil {
		return err
	}
	defer s.close()

	if o.partition >= 0 {
		n, err := s.topicPartitions(ctx, o.topic)
		if err != nil {
			return err
		}
		if int(o.partition) >= n {
			return fmt.Errorf("topic %q has %d partitions; --partition %d does not exist", o.topic, n, o.partition)
		}
	}
	batchMax.Store(resolveBatchMax(ctx, s, o))

	p := &producer{opts: o, session: s, out: bufio.NewWriter(env.Stdout), failed: make(chan struct{})}
	readErr := p.produceLines(ctx, env.Stdin)

	// Wait for every buffered record to be acknowledged or failed. After
	// an interrupt, still give in-flight records a bounded chance to land.
	flushCtx := ctx
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		flushCtx, cancel = context.WithTimeout(context.Background(), timeout)
		defer cancel()
	}
	flushErr := s.cl.Flush(flushCtx)

	p.mu.Lock()
	defer p.mu.Unlock()
	outErr := p.out.Flush()
	switch {
	case p.failure != nil:
		return p.failure
	case readErr != nil:
		return readErr
	case flushErr != nil:
		return fmt.Errorf("waiting for acknowledgements: %w", s.wrap(flushErr, ""))
	case outErr != nil:
		return fmt.Errorf("write output: %w", outErr)
	}
	return nil
}

// resolveBatchMax picks the largest batch to build: the flag if given, else
// the topic's max.message.bytes, else Kafka's default. Building batches the
// broker would accept lets records near the limit through while never
// sending a batch of many small records that the broker would reject whole.
func resolveBatchMax(ctx context.Context, s *session, o produceOptions) int32 {
	if o.batchMaxBytes != 0 {
		return o.batchMaxBytes
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	rcs, err := s.adm.DescribeTopicConfigs(ctx, o.topic)
	if err != nil {
		return defaultBatchMaxBytes
	}
	rc, err := rcs.On(o.topic, nil)
	if err != nil || rc.Err != nil {
		return defaultBatchMaxBytes
	}
	for _, cfg := range rc.Configs {
		if cfg.Key != "max.message.bytes" {
			continue
		}
		n, err := strconv.ParseInt(cfg.MaybeValue(), 10, 32)
		if err != nil {
			return defaultBatchMaxBytes
		}
		return int32(min(max(n, minBatchMaxBytes), maxBatchMaxBytes))
	}
	return defaultBatchMaxBytes
}

// lineOrErr is one item from the stdin reader goroutine.
type lineOrErr struct {
	line []byte
	num  int
	err  error
}

// produceLines sends a record per stdin line until EOF, an interrupt, or
// the first delivery failure. It returns a read or parse error, if any.
func (p *producer) produceLines(ctx context.Context, stdin io.Reader) error {
	// Reading happens in its own goroutine because a read from a terminal
	// cannot be interrupted: on Ctrl-C we stop waiting for it and leave it
	// blocked (the process exits right after).
	lines := make(chan lineOrErr, 64)
	done := make(chan struct{})
	defer close(done)
	go func() {
		defer close(lines)
		lr := newLineReader(stdin, maxLineBytes)
		for {
			line, err := lr.next()
			if errors.Is(err, io.EOF) {
				return
			}
			select {
			case lines <- lineOrErr{line: line, num: lr.line, err: err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()

	for {
		var item lineOrErr
		var ok bool
		select {
		case <-ctx.Done():
			return nil
		case <-p.failed:
			return nil
		case item, ok = <-lines:
		}
		if !ok {
			return nil
		}
		if item.err != nil {
			return item.err
		}
		rec, err := p.record(item)
		if err != nil {
			return err
		}
		num := item.num
		p.session.cl.Produce(ctx, rec, func(r *kgo.Record, err error) { p.delivered(r, num, err) })
	}
}

// record builds the record for one line.
func (p *producer) record(item lineOrErr) (*kgo.Record, error) {
	rec := &kgo.Record{Topic: p.opts.topic, Value: item.line, Headers: p.opts.headers}
	if p.opts.partition >= 0 {
		rec.Partition = p.opts.partition
	}
	if p.opts.keySep != nil {
		key, value, ok := splitKey(item.line, p.opts.keySep)
		if !ok {
			return nil, fmt.Errorf("line %d has no key separator %q", item.num, p.opts.keySep)
		}
		rec.Key, rec.Value = key, value
	}
	return rec, nil
}

// delivered is franz-go's callback for one record.
func (p *producer) delivered(r *kgo.Record, line int, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		if p.failure == nil {
			p.failure = p.deliveryError(line, err)
			close(p.failed)
		}
		return
	}
	if p.opts.verbose {
		fmt.Fprintf(p.out, "%d@%d\n", r.Partition, r.Offset)
	}
}

// deliveryError describes why the record from a line was not stored.
func (p *producer) deliveryError(line int, err error) error {
	switch {
	case isUnknownTopic(err):
		return fmt.Errorf("line %d: %w %q (and the broker does not create topics automatically)", line, ErrUnknownTopic, p.opts.topic)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("interrupted before line %d was acknowledged: %w", line, err)
	}
	return fmt.Errorf("line %d not stored in topic %q: %w", line, p.opts.topic, p.session.wrap(err, ""))
}
