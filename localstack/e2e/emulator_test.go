package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kafki/kafki/loadtest/brokerproc"
	"github.com/kafki/kafki/tiering/mototest"
)

// kind names an emulator.
type kind string

const (
	miniStack kind = "ministack"
	moto      kind = "moto"
)

// Fake credentials and the region every process here uses; emulators
// accept any credentials.
const (
	region    = "us-east-1"
	accessKey = "test"
	secretKey = "test"
)

// emulatorStartTimeout bounds an emulator's start (MiniStack is up in
// under a second, moto in a few; CPU is shared with other work).
const emulatorStartTimeout = 60 * time.Second

// emulator is MiniStack or moto_server on a free loopback port.
type emulator struct {
	kind kind
	// endpoint is http://127.0.0.1:port, for the brokers, the runner and
	// the test's own clients.
	endpoint string
	// cdkEndpoint is what the CDK CLI is pointed at: moto finds its own
	// asset bucket only in a TemplateURL containing "localhost"
	// (../../shared/EMULATORS.md).
	cdkEndpoint string
	account     string
	dir         string

	// MiniStack: the process and what restarts it.
	port string
	proc *brokerproc.Process
	out  *brokerproc.TailBuffer
	// moto: the serialized server (threaded moto can grant two
	// concurrent conditional writes, which brokers racing for leases
	// would turn into two leaders; see tiering/mototest).
	moto *mototest.Server
}

// startEmulator starts an emulator of kind k for the test, stopped at
// cleanup; a machine without it skips (make localstack-test-short
// installs both).
func startEmulator(t *testing.T, k kind) *emulator {
	t.Helper()
	e := &emulator{kind: k, dir: t.TempDir()}
	switch k {
	case miniStack:
		if _, err := exec.LookPath("ministack"); err != nil {
			t.Skip("ministack not installed (make lambdas-deps: pip install ministack cbor2)")
		}
		addrs, err := brokerproc.FreeLoopbackAddrs(1)
		if err != nil {
			t.Fatal(err)
		}
		_, e.port, _ = strings.Cut(addrs[0], ":")
		e.endpoint, e.cdkEndpoint, e.account = "http://"+addrs[0], "http://"+addrs[0], "000000000000"
		if err := e.startMiniStack(t.Context()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if e.proc != nil {
				e.proc.Terminate(10 * time.Second)
			}
			if t.Failed() {
				t.Logf("MiniStack output (tail):\n%s", e.out.String())
			}
		})
	case moto:
		srv, err := mototest.StartSerialized(t.Context())
		if errors.Is(err, mototest.ErrNotInstalled) {
			t.Skip(err)
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = srv.Close() })
		e.moto, e.endpoint, e.account = srv, srv.Endpoint, "123456789012"
		e.cdkEndpoint = strings.Replace(srv.Endpoint, "127.0.0.1", "localhost", 1)
	}
	return e
}

// startMiniStack starts MiniStack on e.port with its state persisted in
// e.dir (saved at SIGTERM, loaded at start), so the long suite can stop
// and restart it. AWS_ENDPOINT_URL in its environment makes the functions
// it runs, which inherit it, call back into it instead of AWS.
func (e *emulator) startMiniStack(ctx context.Context) error {
	cmd := exec.Command("ministack")
	cmd.Dir = e.dir
	cmd.Env = append(os.Environ(),
		"GATEWAY_PORT="+e.port, "BIND_HOST=127.0.0.1", "MINISTACK_HOST=127.0.0.1",
		"AWS_ENDPOINT_URL="+e.endpoint, "AWS_ACCESS_KEY_ID="+accessKey, "AWS_SECRET_ACCESS_KEY="+secretKey, "AWS_REGION="+region,
		"PERSIST_STATE=1", "STATE_DIR="+filepath.Join(e.dir, "state"),
		"S3_PERSIST=1", "S3_DATA_DIR="+filepath.Join(e.dir, "s3"),
		"LAMBDA_WARM_TTL_SECONDS=60")
	if e.out == nil {
		e.out = brokerproc.NewTailBuffer(6<<10, "")
	}
	cmd.Stdout, cmd.Stderr = e.out, e.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	proc, err := brokerproc.Start(cmd)
	if err != nil {
		return fmt.Errorf("start ministack: %w", err)
	}
	e.proc = proc
	return waitFor(ctx, emulatorStartTimeout, "MiniStack healthy on "+e.endpoint, func() error {
		if proc.Done() {
			return fmt.Errorf("ministack exited (%v): %s", proc.Err(), e.out.LastLine())
		}
		return e.healthy()
	})
}

// healthy asks the emulator's health endpoint (moto: any answer).
func (e *emulator) healthy() error {
	path := "/_localstack/health"
	if e.kind == moto {
		path = "/moto-api/"
	}
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(e.endpoint + path)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health: %s", resp.Status)
	}
	return nil
}

// stop takes the emulator away from the brokers: MiniStack exits on
// SIGTERM (saving its state), moto_server, which keeps no state across a
// restart, is paused with SIGSTOP. Either way DynamoDB and S3 stop
// answering.
func (e *emulator) stop() error {
	if e.kind == moto {
		return e.moto.Pause()
	}
	if killed := e.proc.Terminate(30 * time.Second); killed {
		return errors.New("ministack ignored SIGTERM for 30 s: its state was not saved")
	}
	return nil
}

// resume brings it back: MiniStack restarted on the same port from its
// saved state, moto_server continued.
func (e *emulator) resume(ctx context.Context) error {
	if e.kind == moto {
		return e.moto.Resume()
	}
	return e.startMiniStack(ctx)
}

// env is the environment of a process that reaches AWS through the
// emulator: fake credentials, the region, the endpoint, no instance
// metadata service. Parent AWS_* settings are dropped.
func (e *emulator) env(endpoint string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "KAFKI_") {
			env = append(env, kv)
		}
	}
	return append(env,
		"AWS_ACCESS_KEY_ID="+accessKey, "AWS_SECRET_ACCESS_KEY="+secretKey,
		"AWS_REGION="+region, "AWS_DEFAULT_REGION="+region,
		"AWS_ENDPOINT_URL="+endpoint, "AWS_ENDPOINT_URL_S3="+endpoint,
		"AWS_EC2_METADATA_DISABLED=true")
}

// aws is the test's own SDK configuration for the emulator.
func (e *emulator) aws() aws.Config {
	return aws.Config{
		Region:       region,
		BaseEndpoint: aws.String(e.endpoint),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey, Source: "e2e"}, nil
		}),
		RetryMaxAttempts: 3,
	}
}

func (e *emulator) s3() *s3.Client {
	return s3.NewFromConfig(e.aws(), func(o *s3.Options) { o.UsePathStyle = true })
}

func (e *emulator) dynamodb() *dynamodb.Client { return dynamodb.NewFromConfig(e.aws()) }

func (e *emulator) lambda() *lambda.Client { return lambda.NewFromConfig(e.aws()) }

func (e *emulator) cloudformation() *cloudformation.Client {
	return cloudformation.NewFromConfig(e.aws())
}
