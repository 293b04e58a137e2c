package compat

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/brokerd/acl"
	"github.com/kafki/kafki/brokerd/auth"
	"github.com/kafki/kafki/brokerd/meta"
)

const aclTool = "org.apache.kafka.tools.AclCommand" // kafka-acls.sh

// TestKafkaAcls adds, lists and removes ACLs with kafka-acls against a
// broker with Kafka's authorizer class configured, and checks that what
// it adds and removes decides what a client may do. The tool connects as
// User:ANONYMOUS (PLAINTEXT), which the store is bootstrapped to let
// manage ACLs (ALTER on the cluster) before the broker starts.
func TestKafkaAcls(t *testing.T) {
	k := kafkaTools(t)
	dir := t.TempDir()
	st, err := meta.OpenEmbedded(filepath.Join(dir, "__meta"))
	if err != nil {
		t.Fatal(err)
	}
	admin := acl.Binding{Resource: auth.Cluster(), Principal: "User:ANONYMOUS", Host: "*", Op: auth.OpAlter, Permission: acl.PermAllow}
	if err := st.PutACLs(context.Background(), []acl.Binding{admin}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	b := startBroker(t, "--data.dir="+dir, "--authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer", "--auto.create.topics.enable=false")
	bs := b.Bootstrap()
	produce := func(topic string) error {
		cl := newClient(t, b.Addr(), kgo.DisableIdempotentWrite(), kgo.RecordDeliveryTimeout(5*time.Second))
		return cl.ProduceSync(ctxT(t), &kgo.Record{Topic: topic, Value: []byte("v")}).FirstErr()
	}

	// --producer: WRITE, DESCRIBE and CREATE on the topic (prefixed).
	k.mustRun(t, "", aclTool, "--bootstrap-server", bs, "--add", "--allow-principal", "User:ANONYMOUS", "--producer",
		"--topic", "acl-", "--resource-pattern-type", "prefixed")
	k.mustRun(t, "", aclTool, "--bootstrap-server", bs, "--add", "--allow-principal", "User:alice", "--allow-host", "10.0.0.1",
		"--deny-principal", "User:mallory", "--operation", "Read", "--group", "g1")
	r := k.mustRun(t, "", aclTool, "--bootstrap-server", bs, "--list")
	for _, want := range []string{
		"ResourcePattern(resourceType=TOPIC, name=acl-, patternType=PREFIXED)",
		"(principal=User:ANONYMOUS, host=*, operation=WRITE, permissionType=ALLOW)",
		"(principal=User:ANONYMOUS, host=*, operation=CREATE, permissionType=ALLOW)",
		"ResourcePattern(resourceType=GROUP, name=g1, patternType=LITERAL)",
		"(principal=User:alice, host=10.0.0.1, operation=READ, permissionType=ALLOW)",
		"(principal=User:mallory, host=*, operation=READ, permissionType=DENY)",
		"ResourcePattern(resourceType=CLUSTER, name=kafka-cluster, patternType=LITERAL)",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("kafka-acls --list lacks %s:\n%s", want, r.stdout)
		}
	}

	cl := newClient(t, b.Addr())
	createTopic(t, cl, "acl-orders", 1) // CREATE from --producer
	if err := produce("acl-orders"); err != nil {
		t.Fatalf("produce with --producer ACLs: %v", err)
	}
	if err := produce("elsewhere"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("produce to a topic without ACLs: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}

	k.mustRun(t, "", aclTool, "--bootstrap-server", bs, "--remove", "--force", "--allow-principal", "User:ANONYMOUS", "--producer",
		"--topic", "acl-", "--resource-pattern-type", "prefixed")
	r = k.mustRun(t, "", aclTool, "--bootstrap-server", bs, "--list", "--topic", "acl-orders", "--resource-pattern-type", "match")
	if strings.Contains(r.stdout, "acl-") {
		t.Errorf("kafka-acls --list after --remove still shows the topic's ACLs:\n%s", r.stdout)
	}
	if err := produce("acl-orders"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("produce after --remove: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
}
