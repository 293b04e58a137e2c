package triggers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/twmb/franz-go/pkg/kgo"
)

// triggerConsumer runs one trigger: a consumer group member (franz-go,
// cooperative-sticky) with one partitionWorker per assigned partition.
// Several runners running the same trigger split its partitions through
// the group protocol and take over each other's on failure.
type triggerConsumer struct {
	r       *Runner
	def     Definition
	version int64
	filter  Filter
	dest    Destination
	log     *slog.Logger
	cl      *kgo.Client

	mu      sync.Mutex
	workers map[tp]*partitionWorker // guarded by mu
	status  InstanceStatus          // guarded by mu: this runner's report

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

type tp struct {
	topic     string
	partition int32
}

func startConsumer(ctx context.Context, r *Runner, t Trigger) (*triggerConsumer, error) {
	f, err := NewFilter(t.Filters)
	if err != nil {
		return nil, err
	}
	var dest Destination
	if t.OnFailure != "" {
		if dest, err = ParseDestination(t.OnFailure); err != nil {
			return nil, err
		}
	}
	tc := &triggerConsumer{
		r: r, def: t.Definition, version: t.Version, filter: f, dest: dest,
		log:     r.log.With("trigger", t.ID),
		workers: map[tp]*partitionWorker{},
		status:  InstanceStatus{Instance: r.instance, State: StateRunning},
		done:    make(chan struct{}),
	}
	reset := kgo.NewOffset().AtEnd()
	switch t.StartingPosition {
	case TrimHorizon:
		reset = kgo.NewOffset().AtStart()
	case AtTimestamp:
		reset = kgo.NewOffset().AfterMilli(t.StartingTimestamp.UnixMilli())
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(r.brokers...),
		kgo.ClientID("kafki-triggers"),
		kgo.ConsumerGroup(t.Group()),
		kgo.ConsumeTopics(t.Topics...),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(reset),
		kgo.SessionTimeout(r.sessionTimeout),
		kgo.HeartbeatInterval(r.sessionTimeout / 6),
		kgo.FetchMaxWait(250 * time.Millisecond),
		kgo.OnPartitionsAssigned(tc.assigned),
		kgo.OnPartitionsRevoked(tc.revoked),
		kgo.OnPartitionsLost(tc.revoked),
	}
	opts = append(opts, r.clientOpts...)
	tc.cl, err = kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("trigger %s: kafka client: %w", t.ID, err)
	}
	tc.ctx, tc.cancel = context.WithCancel(ctx)
	go tc.poll()
	return tc, nil
}

func (tc *triggerConsumer) poll() {
	defer close(tc.done)
	for {
		fetches := tc.cl.PollRecords(tc.ctx, 10_000)
		if tc.ctx.Err() != nil || fetches.IsClientClosed() {
			return
		}
		fetches.EachError(func(topic string, p int32, err error) {
			tc.log.Warn("fetch", "topic", topic, "partition", p, "err", err)
		})
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			if len(p.Records) == 0 {
				return
			}
			tc.mu.Lock()
			w := tc.workers[tp{p.Topic, p.Partition}]
			tc.mu.Unlock()
			if w == nil {
				return // revoked meanwhile: the new owner fetches them
			}
			recs := make([]*Record, len(p.Records))
			for i, kr := range p.Records {
				recs[i] = fromKgo(kr)
			}
			if w.add(recs, p.HighWatermark) {
				tc.cl.PauseFetchPartitions(map[string][]int32{p.Topic: {p.Partition}})
			}
		})
	}
}

func fromKgo(kr *kgo.Record) *Record {
	r := &Record{Topic: kr.Topic, Partition: kr.Partition, Offset: kr.Offset, Timestamp: kr.Timestamp,
		LogAppendTime: kr.Attrs.TimestampType() == 1, Key: kr.Key, Value: kr.Value}
	for _, h := range kr.Headers {
		r.Headers = append(r.Headers, Header{Key: h.Key, Value: h.Value})
	}
	return r
}

func (tc *triggerConsumer) assigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	for topic, ps := range assigned {
		for _, p := range ps {
			k := tp{topic, p}
			if tc.workers[k] != nil {
				continue
			}
			wctx, cancel := context.WithCancel(tc.ctx)
			w := &partitionWorker{
				tc: tc, topic: topic, partition: p,
				labels: []string{tc.def.ID, topic, partitionLabel(p)},
				notify: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{}),
				overhead: payloadOverhead(tc.r.bootstrap, topic, p),
			}
			tc.workers[k] = w
			go w.run(wctx)
		}
		tc.cl.ResumeFetchPartitions(map[string][]int32{topic: ps})
	}
	tc.log.Info("partitions assigned", "assigned", assigned)
}

// revoked stops the workers of partitions leaving this member: a batch in
// flight is abandoned uncommitted (its records are redelivered by the new
// owner) unless it already succeeded, in which case its commit finishes
// first.
func (tc *triggerConsumer) revoked(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	var stop []*partitionWorker
	tc.mu.Lock()
	for topic, ps := range revoked {
		for _, p := range ps {
			if w := tc.workers[tp{topic, p}]; w != nil {
				stop = append(stop, w)
				delete(tc.workers, tp{topic, p})
			}
		}
	}
	tc.mu.Unlock()
	for _, w := range stop {
		w.cancel()
	}
	for _, w := range stop {
		<-w.done
		tc.r.metrics.Lag.DeleteLabelValues(w.labels...)
		tc.r.metrics.OldestAge.DeleteLabelValues(w.labels...)
	}
	if len(stop) > 0 {
		tc.log.Info("partitions revoked", "revoked", revoked)
	}
}

func (tc *triggerConsumer) commit(ctx context.Context, last *Record) error {
	return tc.cl.CommitRecords(ctx, &kgo.Record{Topic: last.Topic, Partition: last.Partition, Offset: last.Offset, LeaderEpoch: -1})
}

// stop leaves the group (its partitions move to the other runners) after
// stopping the workers.
func (tc *triggerConsumer) stop() {
	tc.cancel()
	<-tc.done
	tc.mu.Lock()
	all := map[string][]int32{}
	for k := range tc.workers {
		all[k.topic] = append(all[k.topic], k.partition)
	}
	tc.mu.Unlock()
	tc.revoked(context.Background(), tc.cl, all)
	tc.cl.Close()
}

// report records an invocation's outcome in the trigger's status.
func (tc *triggerConsumer) report(res Result, err error, n int) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	s := &tc.status
	s.LastResult = string(res)
	s.LastInvoke = time.Now().UTC()
	switch {
	case res == ResultOK:
		s.State, s.LastError = StateRunning, ""
		s.Delivered += int64(n)
	case res == ResultNotFound || res == ResultRunnerError:
		s.State, s.LastError = StateFailed, err.Error()
	default:
		s.LastError = err.Error()
	}
}

func (tc *triggerConsumer) reportFailure(n int, cause error) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	tc.status.ToFailure += int64(n)
	tc.status.LastResult = "to_failure_destination"
	if cause != nil {
		tc.status.LastError = cause.Error()
	}
}

// instanceStatus is this runner's entry for the trigger as of now.
func (tc *triggerConsumer) instanceStatus(now time.Time) InstanceStatus {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	s := tc.status
	s.Partitions = len(tc.workers)
	s.UpdatedAt, s.ExpiresAt = now, now.Add(tc.r.statusTTL())
	return s
}

// Dead-letter record headers (a Kafka failure destination).
const (
	HeaderTrigger   = "kafki.trigger"
	HeaderError     = "kafki.error"
	HeaderReason    = "kafki.reason"
	HeaderTopic     = "kafki.source.topic"
	HeaderPartition = "kafki.source.partition"
	HeaderOffset    = "kafki.source.offset"
)

// sendToDestination stores recs at the failure destination: each record
// re-produced to the dead-letter topic with its key, value, headers and
// the error in kafki.* headers; or one S3 object with AWS's on-failure
// invocation record and the payload. Without a destination the records
// are dropped (logged), as AWS drops them.
func (tc *triggerConsumer) sendToDestination(ctx context.Context, recs []*Record, reason string, cause error) error {
	msg := reason
	if cause != nil {
		msg = cause.Error()
	}
	switch {
	case tc.dest.Topic != "":
		out := make([]*kgo.Record, len(recs))
		for i, r := range recs {
			kr := &kgo.Record{Topic: tc.dest.Topic, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}
			for _, h := range r.Headers {
				kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
			}
			kr.Headers = append(kr.Headers,
				kgo.RecordHeader{Key: HeaderTrigger, Value: []byte(tc.def.ID)},
				kgo.RecordHeader{Key: HeaderError, Value: []byte(msg)},
				kgo.RecordHeader{Key: HeaderReason, Value: []byte(reason)},
				kgo.RecordHeader{Key: HeaderTopic, Value: []byte(r.Topic)},
				kgo.RecordHeader{Key: HeaderPartition, Value: []byte(strconv.Itoa(int(r.Partition)))},
				kgo.RecordHeader{Key: HeaderOffset, Value: []byte(strconv.FormatInt(r.Offset, 10))})
			out[i] = kr
		}
		if err := tc.cl.ProduceSync(ctx, out...).FirstErr(); err != nil {
			return fmt.Errorf("produce to dead-letter topic %s: %w", tc.dest.Topic, err)
		}
		return nil
	case tc.dest.Bucket != "":
		if tc.r.s3 == nil {
			return fmt.Errorf("s3 failure destination %s: no S3 client configured", tc.dest.Bucket)
		}
		first, last := recs[0], recs[len(recs)-1]
		doc := map[string]any{
			"version":   "1.0",
			"timestamp": time.Now().UTC().Format(time.RFC3339Nano),
			"requestContext": map[string]any{
				"requestId":   fmt.Sprintf("%s-%s-%d-%d", tc.def.ID, first.Topic, first.Partition, first.Offset),
				"functionArn": tc.def.Function, "condition": condition(reason), "approximateInvokeCount": 1,
			},
			"responseContext": map[string]any{"functionError": msg},
			"KafkaBatchInfo": map[string]any{
				"batchSize": len(recs), "bootstrapServers": tc.r.bootstrap, "topic": first.Topic, "partition": first.Partition,
				"firstOffset": first.Offset, "lastOffset": last.Offset,
			},
			"payload": json.RawMessage(BuildPayload(tc.r.bootstrap, recs)),
		}
		body, err := json.Marshal(doc)
		if err != nil {
			return fmt.Errorf("encode failure record: %w", err)
		}
		key := fmt.Sprintf("%s/%s/%d/%020d-%020d.json", tc.def.ID, first.Topic, first.Partition, first.Offset, last.Offset)
		if _, err := tc.r.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: &tc.dest.Bucket, Key: &key, Body: bytes.NewReader(body), ContentType: aws.String("application/json")}); err != nil {
			return fmt.Errorf("put failure record s3://%s/%s: %w", tc.dest.Bucket, key, err)
		}
		return nil
	}
	tc.log.Warn("dropping records out of retries (no failure destination)", "topic", recs[0].Topic, "partition", recs[0].Partition,
		"first_offset", recs[0].Offset, "last_offset", recs[len(recs)-1].Offset, "err", msg)
	return nil
}

func condition(reason string) string {
	switch reason {
	case "record_age":
		return "RecordAgeExceeded"
	case "payload_limit":
		return "PayloadSizeExceeded"
	}
	return "RetryAttemptsExhausted"
}
