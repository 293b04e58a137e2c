package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/loadtest/brokerproc"
)

// The suite's topics. sinkTopic's trigger is declared in the CDK app
// (cdkContext); the others are created by the suite.
const (
	sinkTopic   = "e2e-sink"
	ordersTopic = "orders"
	tierTopic   = "tiered"
)

// Tiering settings: segments small enough that a few thousand records
// seal dozens of them, and a local retention that deletes all but the
// last two or three once they are in S3.
const (
	tierSegmentBytes   = 8 << 10
	tierLocalRetention = 16 << 10
	tierRecords        = 3000
)

// suite is one deployment and its cluster, shared by every check.
type suite struct {
	kind    kind
	e       *emulator
	b       binaries
	d       *deployment
	c       *cluster
	proxy   *s3Proxy
	long    bool
	runner  *brokerproc.Process
	figures map[string]string // for the report
}

func TestMiniStack(t *testing.T) { runSuite(t, miniStack) }

func TestMoto(t *testing.T) { runSuite(t, moto) }

func runSuite(t *testing.T, k kind) {
	mode := os.Getenv("KAFKI_LOCALSTACK")
	if mode == "" {
		t.Skip("KAFKI_LOCALSTACK unset: make localstack-test-short runs the short suite, make localstack-test the long one")
	}
	s := &suite{kind: k, long: mode == "long", b: findBinaries(t), figures: map[string]string{}}
	s.e = startEmulator(t, k)
	s.d = deploy(t, s.e, s.b, "KafkiE2E")
	s.checkDeployed(t)
	s.proxy = startS3Proxy(t, s.e.endpoint)
	s.c = startCluster(t, s.e, s.b, s.d, s.proxy.URL)

	t.Run("ProduceConsumeFailover", s.produceConsumeFailover)
	t.Run("TieredRead", s.tieredRead)
	t.Run("Trigger", s.trigger)
	t.Run("APIBehaviour", s.behaviour)
	if s.long {
		t.Run("EmulatorStoppedUnderLoad", s.emulatorStoppedUnderLoad)
		t.Run("FunctionFailsToDeadLetter", s.functionFails)
		t.Run("S3Faults", s.s3Faults)
	}
	if os.Getenv("KAFKI_LOCALSTACK_BENCH") != "" {
		t.Run("Throughput", s.throughput)
	}
	s.stopCluster(t)
	t.Run("Destroy", s.destroy)
	s.report(t)
}

// checkDeployed looks at what the deploy made, not at its exit status:
// the table with the schema's keys, the bucket, the sink table.
func (s *suite) checkDeployed(t *testing.T) {
	t.Helper()
	db := s.e.dynamodb()
	for _, out := range []string{"MetadataTable", "SinkTable"} {
		d, err := db.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(s.d.outputs[out])})
		if err != nil {
			t.Fatalf("%s %s after deploy: %v", out, s.d.outputs[out], err)
		}
		if len(d.Table.KeySchema) == 0 {
			t.Fatalf("%s has no key schema", out)
		}
	}
	if _, err := s.e.s3().HeadBucket(t.Context(), &s3.HeadBucketInput{Bucket: aws.String(s.d.outputs["TierBucket"])}); err != nil {
		t.Fatalf("tier bucket after deploy: %v", err)
	}
}

func (s *suite) client(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(s.c.addrs()...), kgo.RetryTimeout(30 * time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// createTopic creates a topic with RF 3 and min.insync.replicas 2 and
// waits until kcat sees every partition led with an ISR of three.
func (s *suite) createTopic(t *testing.T, topic string, partitions int32, configs map[string]string) {
	t.Helper()
	cfg := map[string]*string{"min.insync.replicas": kadm.StringPtr("2")}
	for k, v := range configs {
		cfg[k] = kadm.StringPtr(v)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(s.client(t)).CreateTopic(ctx, partitions, 3, cfg, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s (%d partitions, RF 3): %v", topic, partitions, err)
	}
	waitMetadata(t, s.c.bootstrap(), topic, topic+": every partition led, ISR {1,2,3}", allInSync(topic, int(partitions), []int32{1, 2, 3}))
}

// produceConsumeFailover: kcat produces to a 3-partition RF 3 topic, the
// leader of partition 0 is SIGKILLed, kcat produces more through the
// same bootstrap list, and kcat reads every line back exactly once, in
// order per partition. The dead broker is then restarted and catches up.
func (s *suite) produceConsumeFailover(t *testing.T) {
	s.createTopic(t, ordersTopic, 3, nil)
	all := s.c.bootstrap()
	produced, seq := map[string]int{}, 0
	kcat(t, lines("before", 500, &seq, produced), append([]string{"-P", "-b", all, "-t", ordersTopic, "-K:"}, kcatProduceArgs...)...)
	out := kcat(t, "", "-C", "-b", all, "-t", ordersTopic, "-o", "beginning", "-e", "-f", `%p %k=%s\n`)
	checkConsumed(t, out, produced)

	md := waitMetadata(t, all, ordersTopic, "orders led", allInSync(ordersTopic, 3, []int32{1, 2, 3}))
	dead := md.partitions(ordersTopic)[0].Leader
	for _, p := range md.partitions(ordersTopic) {
		if p.Partition == 0 {
			dead = p.Leader
		}
	}
	start := time.Now()
	if err := s.c.broker(dead).kill(); err != nil {
		t.Fatal(err)
	}
	t.Logf("SIGKILLed broker %d, leader of %s-0", dead, ordersTopic)
	kcat(t, lines("after", 500, &seq, produced), append([]string{"-P", "-b", all, "-t", ordersTopic, "-K:"}, kcatProduceArgs...)...)
	produceAfterKill := time.Since(start)
	waitMetadata(t, all, ordersTopic, fmt.Sprintf("broker %d fenced: no partition led by it or with it in the ISR", dead), func(md kcatMetadata) error {
		for _, p := range md.partitions(ordersTopic) {
			if p.Leader == dead || p.Leader < 1 || slices.Contains(p.isr(), dead) {
				return fmt.Errorf("partition %d: leader %d, isr %v", p.Partition, p.Leader, p.isr())
			}
		}
		return nil
	})
	failover := time.Since(start)
	out = kcat(t, "", "-C", "-b", all, "-t", ordersTopic, "-o", "beginning", "-e", "-f", `%p %k=%s\n`)
	checkConsumed(t, out, produced)
	t.Logf("failover: 500 lines acknowledged %v after the kill; broker %d out of every ISR after %v; all %d lines read back", produceAfterKill.Round(time.Millisecond), dead, failover.Round(time.Millisecond), len(produced))
	s.figures[string(s.kind)+" failover"] = failover.Round(time.Millisecond).String()

	if err := s.c.broker(dead).start(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitMetadata(t, all, ordersTopic, fmt.Sprintf("broker %d back in every ISR", dead), allInSync(ordersTopic, 3, []int32{1, 2, 3}))
	// The restarted broker serves what it copied back.
	out = kcat(t, "", "-C", "-b", s.c.broker(dead).addr, "-t", ordersTopic, "-o", "beginning", "-e", "-f", `%p %k=%s\n`)
	checkConsumed(t, out, produced)
}

// tieredRead: a tiered topic with tiny segments; sealed segments land in
// the stack's bucket (listed), the local log no longer starts at 0 on any
// replica, and kcat reads every record from offset 0 (the first ones from
// the emulator's S3).
func (s *suite) tieredRead(t *testing.T) {
	s.createTopic(t, tierTopic, 1, map[string]string{
		"remote.storage.enable": "true",
		"segment.bytes":         strconv.Itoa(tierSegmentBytes),
		"local.retention.bytes": strconv.Itoa(tierLocalRetention),
	})
	all := s.c.bootstrap()
	produced, seq := map[string]int{}, 0
	// Small batches: a segment rolls between batches, and kcat would
	// otherwise send the whole input as one batch of about 350 KB.
	kcat(t, lines("t", tierRecords, &seq, produced), append([]string{"-P", "-b", all, "-t", tierTopic, "-K:", "-p", "0", "-X", "batch.size=2048"}, kcatProduceArgs...)...)
	segs := s.waitTiered(t, tierTopic, 0, 90*time.Second)
	out := kcat(t, "", "-C", "-b", all, "-t", tierTopic, "-o", "beginning", "-e", "-f", `%p %k=%s\n`)
	checkConsumed(t, out, produced)
	t.Logf("tiered: %d segments in s3://%s/%s/0/, local log from offset %d, all %d records read from offset 0",
		segs.objects, s.d.outputs["TierBucket"], tierTopic, segs.localStart, tierRecords)
}

type tierState struct {
	objects    int   // .log objects in the bucket
	localStart int64 // the leader's earliest local offset
}

// waitTiered waits until partition p of topic has segments in the bucket
// and its local log (ListOffsets -4, earliest local) starts above 0.
func (s *suite) waitTiered(t *testing.T, topic string, p int32, timeout time.Duration) tierState {
	t.Helper()
	cl := s.client(t)
	var st tierState
	must(t, timeout, fmt.Sprintf("%s-%d: segments in the bucket and offset 0 only there", topic, p), func() error {
		n, err := s.countSegments(t.Context(), topic, p)
		if err != nil {
			return err
		}
		st.objects = n
		if n == 0 {
			return fmt.Errorf("no segment in the bucket yet (%d S3 requests through the proxy; leader metrics: %s)", s.proxy.forward.Load(), s.tierMetrics(topic))
		}
		req := kmsg.NewPtrListOffsetsRequest()
		req.ReplicaID = -1
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = p, -4
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		part := resp.Topics[0].Partitions[0]
		if part.ErrorCode != 0 {
			return fmt.Errorf("list offsets: error %d", part.ErrorCode)
		}
		st.localStart = part.Offset
		if part.Offset == 0 {
			return fmt.Errorf("%d segments uploaded; the local log still starts at 0", n)
		}
		return nil
	})
	return st
}

// tierMetrics is what the brokers' /metrics say about tiering, for
// failure messages.
func (s *suite) tierMetrics(topic string) string {
	var l []string
	for _, br := range s.c.brokers {
		resp, err := http.Get("http://" + br.admin + "/metrics")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "tier") && strings.Contains(line, topic) || strings.HasPrefix(line, "kafki_s3") {
				l = append(l, fmt.Sprintf("broker %d: %s", br.id, line))
			}
		}
	}
	return strings.Join(l, "; ")
}

// countSegments lists the segment objects of topic-p in the tier bucket.
func (s *suite) countSegments(ctx context.Context, topic string, p int32) (int, error) {
	n := 0
	pager := s3.NewListObjectsV2Paginator(s.e.s3(), &s3.ListObjectsV2Input{
		Bucket: aws.String(s.d.outputs["TierBucket"]), Prefix: aws.String(fmt.Sprintf("%s/%d/", topic, p)),
	})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return 0, fmt.Errorf("list objects: %w", err)
		}
		for _, o := range page.Contents {
			if strings.HasSuffix(aws.ToString(o.Key), ".log") {
				n++
			}
		}
	}
	return n, nil
}

// trigger: the trigger declared in the CDK app (Triggers output) runs in
// a kafki-triggers host process, as on the brokers' instances, and the
// real dynamodb-sink function, running in MiniStack's Lambda, writes one
// item per key: every record is in the sink table with its value.
func (s *suite) trigger(t *testing.T) {
	if s.kind == moto {
		t.Skip("skipped on moto: no Lambda executor")
	}
	s.createTopic(t, sinkTopic, 3, nil)
	s.startRunner(t)
	produced, seq := map[string]int{}, 0
	kcat(t, lines("sink", 1000, &seq, produced), append([]string{"-P", "-b", s.c.bootstrap(), "-t", sinkTopic, "-K:"}, kcatProduceArgs...)...)
	start := time.Now()
	s.waitSink(t, produced, 3*time.Minute)
	t.Logf("trigger: all %d records in %s, %v after the last was acknowledged", len(produced), s.d.outputs["SinkTable"], time.Since(start).Round(time.Millisecond))
}

// startRunner runs kafki-triggers with the declared triggers from the
// stack's Triggers output.
func (s *suite) startRunner(t *testing.T) {
	t.Helper()
	if s.runner != nil && !s.runner.Done() {
		return
	}
	decl := s.d.outputs["Triggers"]
	if !strings.Contains(decl, "dynamodb-sink-"+sinkTopic) {
		t.Fatalf("the stack's Triggers output does not declare the sink trigger: %q", decl)
	}
	file := filepath.Join(s.e.dir, "triggers.json")
	if err := os.WriteFile(file, []byte(decl), 0o644); err != nil {
		t.Fatal(err)
	}
	tail := brokerproc.NewTailBuffer(32<<10, "")
	cmd := exec.Command(s.b.triggers, "--bootstrap-server="+s.c.bootstrap(), "--admin=http://"+s.c.broker(1).admin,
		"--declare="+file, "--poll.interval=500ms", "--session.timeout=6s", "--retry.base=50ms", "--retry.max=1s")
	cmd.Env = s.e.env(s.e.endpoint)
	cmd.Stdout, cmd.Stderr = tail, tail
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p, err := brokerproc.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	s.runner = p
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kafki-triggers output (tail):\n%s", tail.String())
		}
		p.Terminate(10 * time.Second)
	})
}

// waitSink waits until the sink table holds every produced key with its
// value.
func (s *suite) waitSink(t *testing.T, produced map[string]int, timeout time.Duration) {
	t.Helper()
	must(t, timeout, "every record in the sink table", func() error {
		items, err := s.scan(t.Context(), s.d.outputs["SinkTable"])
		if err != nil {
			return err
		}
		missing, wrong := 0, 0
		for k, seq := range produced {
			it, ok := items[k]
			if !ok {
				missing++
				continue
			}
			if v, _ := it["value"].(*dtypes.AttributeValueMemberS); v == nil || v.Value != value(seq) {
				wrong++
			}
		}
		if missing+wrong > 0 {
			return fmt.Errorf("%d of %d keys missing, %d with a wrong value", missing, len(produced), wrong)
		}
		return nil
	})
}

// scan reads a whole table by pk, following LastEvaluatedKey.
func (s *suite) scan(ctx context.Context, table string) (map[string]map[string]dtypes.AttributeValue, error) {
	out := map[string]map[string]dtypes.AttributeValue{}
	p := dynamodb.NewScanPaginator(s.e.dynamodb(), &dynamodb.ScanInput{TableName: aws.String(table)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", table, err)
		}
		for _, it := range page.Items {
			pk, _ := it["pk"].(*dtypes.AttributeValueMemberS)
			if pk == nil {
				continue
			}
			key := pk.Value
			if sk, ok := it["sk"].(*dtypes.AttributeValueMemberS); ok {
				key += "/" + sk.Value
			}
			out[key] = it
		}
	}
	return out, nil
}

// stopCluster stops the runner and the brokers (SIGTERM: a controlled
// shutdown) before the stack goes.
func (s *suite) stopCluster(t *testing.T) {
	t.Helper()
	if s.runner != nil {
		s.runner.Terminate(10 * time.Second)
	}
	for _, br := range s.c.brokers {
		if br.proc != nil {
			br.proc.Terminate(15 * time.Second)
		}
	}
}

// destroy empties the tier bucket (AWS refuses to delete a bucket with
// objects, and the stack does not own the segments), runs cdk destroy, and
// checks the bucket and the tables are gone: HeadBucket and DescribeTable
// answer not found.
func (s *suite) destroy(t *testing.T) {
	emptied := s.emptyBucket(t, s.d.outputs["TierBucket"])
	s.d.destroy(t, s.e, s.b)
	ctx := t.Context()
	must(t, 2*time.Minute, "the tier bucket gone", func() error {
		_, err := s.e.s3().HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.d.outputs["TierBucket"])})
		var nf *s3types.NotFound
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("HeadBucket %s: %v, want NotFound", s.d.outputs["TierBucket"], err)
	})
	for _, out := range []string{"MetadataTable", "SinkTable", "RecorderTable"} {
		if s.d.outputs[out] == "" {
			continue
		}
		must(t, 2*time.Minute, out+" gone", func() error {
			_, err := s.e.dynamodb().DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.d.outputs[out])})
			var nf *dtypes.ResourceNotFoundException
			if errors.As(err, &nf) {
				return nil
			}
			return fmt.Errorf("DescribeTable %s: %v, want ResourceNotFoundException", s.d.outputs[out], err)
		})
	}
	t.Logf("destroyed in %v (after emptying %d objects from the tier bucket); bucket and tables not found", s.d.timings["destroy"].Round(time.Millisecond), emptied)
}

func (s *suite) emptyBucket(t *testing.T, bucket string) int {
	t.Helper()
	c := s.e.s3()
	n := 0
	pager := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for pager.HasMorePages() {
		page, err := pager.NextPage(t.Context())
		if err != nil {
			t.Fatalf("list %s: %v", bucket, err)
		}
		for _, o := range page.Contents {
			if _, err := c.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: o.Key}); err != nil {
				t.Fatalf("delete s3://%s/%s: %v", bucket, aws.ToString(o.Key), err)
			}
			n++
		}
	}
	return n
}

// report logs the figures and, with KAFKI_LOCALSTACK_REPORT set, appends
// them to that file as one line per figure.
func (s *suite) report(t *testing.T) {
	for step, d := range s.d.timings {
		s.figures[string(s.kind)+" "+step] = d.Round(time.Millisecond).String()
	}
	var lines []string
	for k, v := range s.figures {
		lines = append(lines, k+": "+v)
	}
	slices.Sort(lines)
	t.Logf("figures:\n  %s", strings.Join(lines, "\n  "))
	if path := os.Getenv("KAFKI_LOCALSTACK_REPORT"); path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fmt.Fprintf(f, "%s %s\n", time.Now().UTC().Format(time.RFC3339), strings.Join(lines, "; "))
	}
}
