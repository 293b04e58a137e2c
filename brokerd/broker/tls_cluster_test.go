package broker_test

import (
	"context"
	"crypto/x509/pkix"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/brokerd/broker"
	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/internal/testbroker"
	"github.com/kafki/kafki/brokerd/internal/testcerts"
	"github.com/kafki/kafki/internal/poll"
)

// Three brokers replicate over an SSL inter-broker listener with mutual
// TLS: clients use the CLIENT (PLAINTEXT) listener and are told every
// broker's CLIENT address; followers fetch from their leaders on
// REPLICATION, where each broker's session is its own certificate's
// principal; every write acknowledged with acks=all is read back.
func TestThreeBrokersReplicateOverSSL(t *testing.T) {
	moto.Env(t)
	table := fmt.Sprintf("kafki-tls-%d", time.Now().UnixNano())
	dir := t.TempDir()
	ca := testcerts.NewCA(t, dir, "cluster")
	rec := &sessions{}
	brokers := map[int32]*broker.Broker{}
	for id := int32(1); id <= 3; id++ {
		name := "broker-" + strconv.Itoa(int(id))
		cert := ca.Issue(t, dir, name, testcerts.Leaf{Subject: pkix.Name{CommonName: name, OrganizationalUnit: []string{"brokers"}}})
		brokers[id] = testbroker.StartBroker(t, testbroker.WithBroker(broker.WithAuthorizer(rec)), testbroker.WithConfig(func(c *config.Config) {
			c.NodeID = id
			c.MetadataStore, c.MetadataTable, c.MetadataCreateTable = config.MetadataDynamoDB, table, true
			c.SessionLease = 2 * time.Second
			c.MetadataPollInterval = 50 * time.Millisecond
			c.ReplicaLagTimeMax = 2 * time.Second
			c.ReplicaFetchWaitMax = 200 * time.Millisecond
			c.OffsetsTopicPartitions = 3
			c.GroupInitialRebalanceDelay = 0

			c.Listen = config.Default().Listen
			c.Listeners = "CLIENT://127.0.0.1:0,REPLICATION://127.0.0.1:0"
			c.ListenerSecurityProtocolMap = "CLIENT:PLAINTEXT,REPLICATION:SSL"
			c.InterBrokerListenerName = "REPLICATION"
			c.SSL.KeystoreLocation, c.SSL.TruststoreLocation = cert.Keystore, ca.File
			c.SSL.ClientAuth = "required"
			c.SSL.PrincipalMappingRules = "RULE:^CN=([^,]*),OU=brokers.*$/$1/"
		}))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var seeds []string
	clientPorts := map[int32]int32{}
	for id, b := range brokers {
		seeds = append(seeds, b.ListenerAddr("CLIENT"))
		clientPorts[id] = port(t, b.ListenerAddr("CLIENT"))
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics("replicated"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	poll.Must(t, 20*time.Second, "every broker listed on its CLIENT address", func() error {
		md, err := adm.BrokerMetadata(ctx)
		if err != nil {
			return err
		}
		if len(md.Brokers) != 3 {
			return fmt.Errorf("%d brokers", len(md.Brokers))
		}
		for _, b := range md.Brokers {
			if b.Port != clientPorts[b.NodeID] {
				return fmt.Errorf("broker %d listed on port %d, want its CLIENT port %d", b.NodeID, b.Port, clientPorts[b.NodeID])
			}
		}
		return nil
	})
	if _, err := adm.CreateTopic(ctx, 3, 3, nil, "replicated"); err != nil {
		t.Fatal(err)
	}
	const n = 60
	for i := range n {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "replicated", Partition: int32(i % 3), Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}
	poll.Must(t, 20*time.Second, "every partition's ISR is all three brokers", func() error {
		md, err := adm.Metadata(ctx, "replicated")
		if err != nil {
			return err
		}
		for _, p := range md.Topics["replicated"].Partitions {
			if len(p.ISR) != 3 {
				return fmt.Errorf("partition %d ISR %v", p.Partition, p.ISR)
			}
		}
		return nil
	})
	got := map[string]bool{}
	for len(got) < n && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got[string(r.Value)] = true })
	}
	if len(got) != n {
		t.Fatalf("read back %d of %d records", len(got), n)
	}
	// Followers fetched on REPLICATION, over SSL, as themselves: at least
	// two brokers did (every partition has two followers).
	poll.Must(t, 10*time.Second, "replica fetches over SSL with broker principals", func() error {
		var as []string
		for id := 1; id <= 3; id++ {
			k := "REPLICATION SSL User:broker-" + strconv.Itoa(id)
			if rec.has(k) {
				as = append(as, k)
			}
		}
		if len(as) < 2 {
			return fmt.Errorf("sessions seen %v", rec)
		}
		return nil
	})
}
