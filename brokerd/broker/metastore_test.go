package broker_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/brokerd/broker"
	"github.com/kafki/kafki/brokerd/cluster"
	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/internal/testbroker"
	"github.com/kafki/kafki/brokerd/metastore"
	"github.com/kafki/kafki/tiering/mototest"
)

var moto *mototest.Server

func TestMain(m *testing.M) { os.Exit(mototest.Main(m, &moto)) }

// A broker on metadata.store=dynamodb keeps topics in the table, not in its
// data directory: a second broker with an empty disk sees the same topic,
// with the same id.
func TestDynamoDBMetadataStoreSurvivesTheDisk(t *testing.T) {
	moto.Env(t)
	table := fmt.Sprintf("kafki-broker-%d", time.Now().UnixNano())
	dynamo := testbroker.WithConfig(func(c *config.Config) {
		c.MetadataStore, c.MetadataTable, c.MetadataCreateTable = config.MetadataDynamoDB, table, true
	})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	first := testbroker.StartBroker(t, dynamo)
	cl, err := kgo.NewClient(kgo.SeedBrokers(first.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	created, err := kadm.NewClient(cl).CreateTopic(ctx, 3, 1, nil, "kept")
	cl.Close()
	if err != nil || created.Err != nil {
		t.Fatalf("create: %v %v", err, created.Err)
	}
	if err := first.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	second := testbroker.StartBroker(t, dynamo) // fresh data dir
	cl2, err := kgo.NewClient(kgo.SeedBrokers(second.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl2.Close()
	topics, err := kadm.NewClient(cl2).ListTopics(ctx, "kept")
	if err != nil {
		t.Fatal(err)
	}
	d := topics["kept"]
	if d.Err != nil || len(d.Partitions) != 3 || d.ID != created.ID {
		t.Fatalf("second broker sees %+v (id %v, created %v)", d, d.ID, created.ID)
	}
}

func TestDynamoDBMetadataStoreUnreachableFailsFast(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1") // nothing listens
	t.Setenv("AWS_ACCESS_KEY_ID", "x")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "x")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	cfg := testbroker.Config(t, testbroker.WithConfig(func(c *config.Config) {
		c.MetadataStore, c.MetadataTable = config.MetadataDynamoDB, "missing"
	}))
	if err := startExpectError(cfg); err == nil {
		t.Fatal("broker started without a reachable metadata table")
	}
}

// startExpectError starts a broker that should fail, stopping it if not.
func startExpectError(cfg config.Config) error {
	b, err := broker.Start(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		b.Shutdown(context.Background())
	}
	return err
}

// A Start that fails after joining the cluster (here: the metrics port is
// taken) undoes what it did: the session lease is released, so the
// broker's next start need not wait a lease duration for its own lease.
func TestFailedStartReleasesWhatItTook(t *testing.T) {
	moto.Env(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	table := fmt.Sprintf("kafki-failed-start-%d", time.Now().UnixNano())
	cfg := testbroker.Config(t, testbroker.WithConfig(func(c *config.Config) {
		c.MetadataStore, c.MetadataTable, c.MetadataCreateTable = config.MetadataDynamoDB, table, true
		c.MetricsListen = busy.Addr().String()
		c.SessionLease = time.Minute
	}))
	if err := startExpectError(cfg); err == nil || !strings.Contains(err.Error(), "metrics listen") {
		t.Fatalf("start with a taken metrics port: %v", err)
	}
	store := metastore.New(dynamodb.NewFromConfig(moto.SerialConfig()), table)
	rec, ok, err := store.Get(t.Context(), cluster.BrokerLease(cfg.NodeID))
	if err != nil || !ok {
		t.Fatalf("session lease: %v %v", ok, err)
	}
	if rec.Holder != "" {
		t.Fatalf("session lease still held by %q after the failed start", rec.Holder)
	}
}
