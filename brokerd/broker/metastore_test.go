package broker_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/brokerd/broker"
	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/internal/testbroker"
	"github.com/kafki/kafki/tiering/mototest"
)

var moto *mototest.Server

func TestMain(m *testing.M) { os.Exit(mototest.Main(m, &moto)) }

// A broker on metadata.store=dynamodb keeps topics in the table, not in its
// data directory: a second broker with an empty disk sees the same topic,
// with the same id.
func TestDynamoDBMetadataStoreSurvivesTheDisk(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL", moto.Endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", mototest.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", mototest.SecretAccessKey)
	t.Setenv("AWS_REGION", mototest.Region)
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
