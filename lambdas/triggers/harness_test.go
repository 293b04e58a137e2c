package triggers_test

// The harness of the trigger tests: a real Lambda runtime (MiniStack, the
// functions run as processes from the zips `make lambdas` builds), a real
// broker (the brokerd binary), and the functions' effects read back from
// MiniStack's DynamoDB and S3.

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/internal/poll"
	"github.com/kafki/kafki/lambdas/triggers"
	"github.com/kafki/kafki/loadtest/brokerproc"
)

// env is what every test shares: one MiniStack, one broker, the zips.
type env struct {
	endpoint string
	brokerd  string // binary
	broker   string // bootstrap of the shared broker
	zips     string // dir with <name>.zip
	lambda   *lambda.Client
	s3       *s3.Client
	db       *dynamodb.Client
}

var (
	sharedOnce sync.Once
	shared     *env
	sharedErr  error
	cleanups   []func()
)

func TestMain(m *testing.M) {
	code := m.Run()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	os.Exit(code)
}

// setup starts (once) MiniStack and a broker; a machine without
// MiniStack skips (make test installs it).
func setup(t testing.TB) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("short: needs MiniStack and a broker")
	}
	sharedOnce.Do(func() { shared, sharedErr = start() })
	if sharedErr != nil {
		if strings.Contains(sharedErr.Error(), "ministack not installed") {
			t.Skip(sharedErr)
		}
		t.Fatal(sharedErr)
	}
	return shared
}

func start() (*env, error) {
	if _, err := exec.LookPath("ministack"); err != nil {
		return nil, fmt.Errorf("ministack not installed (python3 -m pip install ministack cbor2): %w", err)
	}
	dir, err := os.MkdirTemp("", "kafki-lambdas-")
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, func() { os.RemoveAll(dir) })
	zips := os.Getenv("KAFKI_LAMBDAS_DIR")
	if _, err := os.Stat(filepath.Join(zips, "recorder.zip")); zips == "" || err != nil {
		zips = filepath.Join(dir, "zips")
		if err := buildZips(zips); err != nil {
			return nil, err
		}
	}
	bin, err := brokerproc.FindBrokerd(dir)
	if err != nil {
		return nil, err
	}
	addrs, err := brokerproc.FreeLoopbackAddrs(1)
	if err != nil {
		return nil, err
	}
	_, port, _ := strings.Cut(addrs[0], ":")
	endpoint := "http://" + addrs[0]
	// The test process and everything it starts (functions inherit
	// MiniStack's environment) reach AWS through the emulator.
	for k, v := range map[string]string{"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1"} {
		os.Setenv(k, v)
	}
	cmd := exec.Command("ministack")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GATEWAY_PORT="+port, "BIND_HOST=127.0.0.1", "MINISTACK_HOST=127.0.0.1", "LAMBDA_WARM_TTL_SECONDS=60")
	out := brokerproc.NewTailBuffer(16<<10, "")
	cmd.Stdout, cmd.Stderr = out, out
	proc, err := brokerproc.Start(cmd)
	if err != nil {
		return nil, fmt.Errorf("start ministack: %w", err)
	}
	cleanups = append(cleanups, func() { proc.Terminate(5 * time.Second) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := brokerproc.WaitListening(ctx, addrs[0], proc.Exited(), 50*time.Millisecond); err != nil {
		return nil, fmt.Errorf("ministack did not start: %w: %s", err, out.LastLine())
	}
	if err := poll.Until(ctx, 50*time.Millisecond, func() error {
		resp, err := http.Get(endpoint + "/_localstack/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("health: %s", resp.Status)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("ministack health: %w", err)
	}
	b, err := brokerproc.Spawn(context.Background(), bin, 30*time.Second)
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, func() { b.Stop(5 * time.Second) })
	lc, s3c, err := triggers.AWSClients(context.Background())
	if err != nil {
		return nil, err
	}
	e := &env{endpoint: endpoint, brokerd: bin, broker: b.Addr(), zips: zips, lambda: lc, s3: s3c}
	e.db = dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: lc.Options().Credentials})
	return e, nil
}

// buildZips builds the functions as make lambdas does.
func buildZips(out string) error {
	root, err := exec.Command(brokerproc.GoTool(), "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return fmt.Errorf("module root: %w", err)
	}
	for _, name := range []string{"recorder", "dynamodb-sink", "s3-archiver"} {
		bin := filepath.Join(out, name, "bootstrap")
		cmd := exec.Command(brokerproc.GoTool(), "build", "-tags", "lambda.norpc", "-trimpath", "-o", bin, "./lambdas/functions/"+name)
		cmd.Dir = strings.TrimSpace(string(root))
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build %s: %w\n%s", name, err, b)
		}
		if err := zipBootstrap(bin, filepath.Join(out, name+".zip")); err != nil {
			return err
		}
	}
	return nil
}

func zipBootstrap(bin, dst string) error {
	raw, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	if _, err := w.Write(raw); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(dst, buf.Bytes(), 0o644)
}

// createFunction creates a function from a built zip with env vars.
func (e *env) createFunction(t testing.TB, name, zipName string, vars map[string]string) {
	t.Helper()
	code, err := os.ReadFile(filepath.Join(e.zips, zipName+".zip"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.lambda.CreateFunction(context.Background(), &lambda.CreateFunctionInput{
		FunctionName: &name, Runtime: ltypes.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
		Role: aws.String("arn:aws:iam::000000000000:role/kafki-test"), Code: &ltypes.FunctionCode{ZipFile: code},
		Timeout: aws.Int32(30), Environment: &ltypes.Environment{Variables: vars}, Architectures: []ltypes.Architecture{ltypes.ArchitectureX8664},
	})
	if err != nil {
		t.Fatalf("create function %s: %v", name, err)
	}
}

// createTable makes a table with hash key pk (and range key sk).
func (e *env) createTable(t testing.TB, name string, withSK bool) {
	t.Helper()
	in := &dynamodb.CreateTableInput{TableName: &name, BillingMode: dtypes.BillingModePayPerRequest,
		AttributeDefinitions: []dtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: dtypes.ScalarAttributeTypeS}},
		KeySchema:            []dtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: dtypes.KeyTypeHash}}}
	if withSK {
		in.AttributeDefinitions = append(in.AttributeDefinitions, dtypes.AttributeDefinition{AttributeName: aws.String("sk"), AttributeType: dtypes.ScalarAttributeTypeS})
		in.KeySchema = append(in.KeySchema, dtypes.KeySchemaElement{AttributeName: aws.String("sk"), KeyType: dtypes.KeyTypeRange})
	}
	if _, err := e.db.CreateTable(context.Background(), in); err != nil {
		t.Fatalf("create table %s: %v", name, err)
	}
}

// batchSeen is one recorded invocation of one partition.
type batchSeen struct {
	start     string // sort key: start time first
	topic     string
	partition int32
	offsets   []int64
	ts        []int64
	startMs   int64
	failed    bool
}

// recorded reads every batch the recorder named name saw, in start order.
func (e *env) recorded(t testing.TB, table, name string) []batchSeen {
	t.Helper()
	var out []batchSeen
	p := dynamodb.NewQueryPaginator(e.db, &dynamodb.QueryInput{TableName: &table, ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]dtypes.AttributeValue{":pk": &dtypes.AttributeValueMemberS{Value: name}}})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("read recorder table: %v", err)
		}
		for _, it := range page.Items {
			b := batchSeen{start: sval(it, "sk"), topic: sval(it, "topic"), partition: int32(nval(it, "partition")), startMs: nval(it, "start_ms")}
			b.offsets = ints(sval(it, "offsets"))
			b.ts = ints(sval(it, "ts"))
			if v, ok := it["failed"].(*dtypes.AttributeValueMemberBOOL); ok {
				b.failed = v.Value
			}
			out = append(out, b)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].start < out[j].start })
	return out
}

func sval(it map[string]dtypes.AttributeValue, k string) string {
	if v, ok := it[k].(*dtypes.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func nval(it map[string]dtypes.AttributeValue, k string) int64 {
	if v, ok := it[k].(*dtypes.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		return n
	}
	return 0
}

func ints(s string) []int64 {
	if s == "" {
		return nil
	}
	var out []int64
	for _, p := range strings.Split(s, ",") {
		n, _ := strconv.ParseInt(p, 10, 64)
		out = append(out, n)
	}
	return out
}

// kafka is a plain producer/admin client of the shared broker.
func (e *env) kafka(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(e.broker), kgo.AllowAutoTopicCreation()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// createTopic creates a topic with n partitions.
func createTopic(t testing.TB, cl *kgo.Client, topic string, n int32) {
	t.Helper()
	req := kmsgCreateTopic(topic, n)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("create topic %s: %+v", topic, resp.Topics)
	}
}

// runRunner runs a runner over store until the test ends.
func (e *env) runRunner(t testing.TB, store triggers.Store, instance string) *triggers.Runner {
	t.Helper()
	r, _ := e.runner(t, store, instance)
	return r
}

// startRunner runs a runner over store until the returned stop (which
// waits for Run to return) or the end of the test.
func (e *env) startRunner(t testing.TB, store triggers.Store, instance string) (stop func()) {
	t.Helper()
	_, stop = e.runner(t, store, instance)
	return stop
}

func (e *env) runner(t testing.TB, store triggers.Store, instance string) (*triggers.Runner, func()) {
	t.Helper()
	r, err := triggers.New(triggers.Options{
		Store: store, Brokers: []string{e.broker}, Lambda: e.lambda, S3: e.s3, Instance: instance,
		PollInterval: 200 * time.Millisecond, Backoff: triggers.Backoff{Base: 50 * time.Millisecond, Max: 400 * time.Millisecond},
		SessionTimeout: 6 * time.Second, Log: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return r, stop
}

// eventually waits until cond holds (package poll), failing with the
// state cond last described.
func eventually(t testing.TB, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	poll.Must(t, d, what, func() error {
		if ok, state := cond(); !ok {
			return errors.New(state)
		}
		return nil
	})
}
