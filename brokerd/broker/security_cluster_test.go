package broker_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/kafki/kafki/brokerd/broker"
	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/internal/testbroker"
	"github.com/kafki/kafki/brokerd/internal/testcerts"
	"github.com/kafki/kafki/internal/poll"
)

// lockedBuffer is a log sink safe for the broker's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The whole security model at once, as a production cluster runs it:
// three brokers whose only listeners are SASL_SSL, replicating as the
// inter-broker user of sasl.inter.broker.secret.file (a super user of
// the ACL authorizer without being listed); SCRAM users created through
// AlterUserScramCredentials; ACLs deciding what each may do. alice, with
// WRITE and READ on the topic and READ on her group, produces with
// acks=all (replicated by all three brokers over SASL_SSL) and consumes
// everything back; bob, with no ACL, cannot produce and does not even
// see the topic. No password is in any broker's log.
func TestThreeBrokersSASLSSLWithACLs(t *testing.T) {
	moto.Env(t)
	table := fmt.Sprintf("kafki-sec-%d", time.Now().UnixNano())
	dir := t.TempDir()
	ca := testcerts.NewCA(t, dir, "cluster")
	const brokerUser, brokerPass = "kafki-broker", "broker-Pass-7f3a"
	const alicePass, bobPass = "alice-Pass-91c2", "bob-Pass-04de"
	secretFile := filepath.Join(dir, "inter-broker.json")
	sec, _ := json.Marshal(map[string]string{"username": brokerUser, "password": brokerPass})
	if err := os.WriteFile(secretFile, sec, 0o600); err != nil {
		t.Fatal(err)
	}
	logs := map[int32]*lockedBuffer{}
	brokers := map[int32]*broker.Broker{}
	for id := int32(1); id <= 3; id++ {
		name := "broker-" + strconv.Itoa(int(id))
		cert := ca.Issue(t, dir, name, testcerts.Leaf{Subject: pkix.Name{CommonName: name}})
		logs[id] = &lockedBuffer{}
		brokers[id] = testbroker.StartBrokerLogging(t, logs[id], testbroker.WithConfig(func(c *config.Config) {
			c.NodeID = id
			c.MetadataStore, c.MetadataTable, c.MetadataCreateTable = config.MetadataDynamoDB, table, true
			c.SessionLease = 2 * time.Second
			c.MetadataPollInterval = 50 * time.Millisecond
			c.ReplicaLagTimeMax = 2 * time.Second
			c.ReplicaFetchWaitMax = 200 * time.Millisecond
			c.OffsetsTopicPartitions = 3
			c.GroupInitialRebalanceDelay = 0
			c.FailedAuthDelay = time.Millisecond

			c.Listen = config.Default().Listen
			c.Listeners = "CLIENT://127.0.0.1:0,REPLICATION://127.0.0.1:0"
			c.ListenerSecurityProtocolMap = "CLIENT:SASL_SSL,REPLICATION:SASL_SSL"
			c.InterBrokerListenerName = "REPLICATION"
			c.SSL.KeystoreLocation, c.SSL.TruststoreLocation = cert.Keystore, ca.File
			c.SASLInterBrokerSecretFile = secretFile
			c.AuthorizerClassName = "acl"
		}))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	var seeds []string
	for _, b := range brokers {
		seeds = append(seeds, b.ListenerAddr("CLIENT"))
	}
	tlsCfg := &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
	client := func(user, pass string, opts ...kgo.Opt) *kgo.Client {
		t.Helper()
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.DialTLSConfig(tlsCfg),
			kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism())}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}

	// The brokers' own user administers: users, ACLs, the topic.
	adm := kadm.NewClient(client(brokerUser, brokerPass))
	res, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: "alice", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: alicePass},
		{User: "bob", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: bobPass},
	})
	if err != nil || res.Error() != nil {
		t.Fatalf("create users: %v %v", err, res.Error())
	}
	if ct, err := adm.CreateTopic(ctx, 3, 3, map[string]*string{"min.insync.replicas": kadm.StringPtr("2")}, "secured"); err != nil || ct.Err != nil {
		t.Fatalf("create topic: %v %v", err, ct.Err)
	}
	acls := kadm.NewACLs().Allow("User:alice").Topics("secured").Operations(kadm.OpWrite, kadm.OpRead, kadm.OpDescribe).ResourcePatternType(kadm.ACLPatternLiteral)
	groupACL := kadm.NewACLs().Allow("User:alice").Groups("alice-group").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral)
	for _, b := range []*kadm.ACLBuilder{acls, groupACL} {
		rs, err := adm.CreateACLs(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Err != nil {
				t.Fatalf("create ACL: %v", r.Err)
			}
		}
	}

	const n = 60
	// ACLs reach each broker at its next metadata poll; a client whose
	// InitProducerId was refused stays failed, so wait until every
	// broker's own authorizer lists alice's bindings.
	admCl := client(brokerUser, brokerPass)
	poll.Must(t, 20*time.Second, "alice's ACLs on every broker", func() error {
		for id := int32(1); id <= 3; id++ {
			req := kmsg.NewPtrDescribeACLsRequest()
			req.ResourceType, req.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
			req.Principal, req.Operation, req.PermissionType = kmsg.StringPtr("User:alice"), kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
			resp, err := req.RequestWith(ctx, admCl.Broker(int(id)))
			if err != nil {
				return err
			}
			n := 0
			for _, r := range resp.Resources {
				n += len(r.ACLs)
			}
			if n != 4 {
				return fmt.Errorf("broker %d lists %d of alice's 4 bindings", id, n)
			}
		}
		return nil
	})
	alice := client("alice", alicePass, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ConsumeTopics("secured"), kgo.ConsumerGroup("alice-group"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	for i := 0; i < n; i++ {
		if err := alice.ProduceSync(ctx, &kgo.Record{Topic: "secured", Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatalf("alice produce %d: %v", i, err)
		}
	}
	md, err := adm.Metadata(ctx, "secured")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range md.Topics["secured"].Partitions {
		if len(p.ISR) != 3 {
			t.Errorf("partition %d ISR %v: replication over SASL_SSL did not keep every broker in sync", p.Partition, p.ISR)
		}
	}
	got := map[string]bool{}
	for len(got) < n && ctx.Err() == nil {
		fs := alice.PollFetches(ctx)
		fs.EachError(func(_ string, _ int32, err error) { t.Logf("alice fetch: %v", err) })
		fs.EachRecord(func(r *kgo.Record) { got[string(r.Value)] = true })
	}
	if len(got) != n {
		t.Fatalf("alice read back %d of %d records", len(got), n)
	}

	bob := client("bob", bobPass, kgo.RecordRetries(0), kgo.RecordDeliveryTimeout(5*time.Second))
	if err := bob.ProduceSync(ctx, &kgo.Record{Topic: "secured", Value: []byte("x")}).FirstErr(); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("bob's produce: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	bmd, err := kadm.NewClient(bob).Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, seen := bmd.Topics["secured"]; seen {
		t.Error("bob, who may not describe the topic, sees it in Metadata")
	}
	if err := client("alice", "wrong-Pass-0000").Ping(ctx); err == nil {
		t.Error("a wrong password logged in")
	}

	for id, l := range logs {
		out := l.String()
		for _, pw := range []string{brokerPass, alicePass, bobPass, "wrong-Pass-0000"} {
			if strings.Contains(out, pw) {
				t.Errorf("broker %d's log holds a password", id)
			}
		}
	}
}
