package node_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/acl"
	"github.com/kafki/kafki/brokerd/auth"
	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/metastore"
	"github.com/kafki/kafki/internal/poll"
)

// TestACLsPropagate: an ACL created through one broker of a 3-broker
// cluster decides on every broker within a metadata poll or so, and its
// deletion through another broker too. The principal is User:ANONYMOUS
// (PLAINTEXT), allowed to manage ACLs by a binding written into the table
// before the brokers start.
func TestACLsPropagate(t *testing.T) {
	const poll50 = 50 * time.Millisecond // metadata.poll.interval of newCluster
	table := fmt.Sprintf("kafki-acl-%d", time.Now().UnixNano())
	client := dynamodb.NewFromConfig(moto.SerialConfig())
	if err := metastore.EnsureTable(t.Context(), client, table); err != nil {
		t.Fatal(err)
	}
	admin := acl.Binding{Resource: auth.Cluster(), Principal: "User:ANONYMOUS", Host: "*", Op: auth.OpAlter, Permission: acl.PermAllow}
	create := acl.Binding{Resource: auth.Cluster(), Principal: "User:ANONYMOUS", Host: "*", Op: auth.OpCreate, Permission: acl.PermAllow}
	if err := metastore.New(client, table).PutACLs(t.Context(), []acl.Binding{admin, create}); err != nil {
		t.Fatal(err)
	}
	c := newClusterWithTable(t, 3, table, func(cfg *config.Config) {
		cfg.AuthorizerClassName = config.AuthorizerACL
		cfg.AutoCreateTopics = false
	})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(c.client()).CreateTopic(ctx, 1, 3, nil, "guarded"); err != nil {
		t.Fatal(err)
	}
	codes := func() map[int32]int16 {
		out := map[int32]int16{}
		for id, b := range c.brokers {
			md, err := c.metadataFrom(ctx, b.Addr(), "guarded")
			if err != nil {
				t.Fatal(err)
			}
			out[id] = md.Topics[0].ErrorCode
		}
		return out
	}
	everywhere := func(code int16) func() error {
		return func() error {
			for id, got := range codes() {
				if got != code {
					return fmt.Errorf("broker %d answers %v", id, kerr.ErrorForCode(got))
				}
			}
			return nil
		}
	}
	poll.Must(t, 10*time.Second, "every broker denies DESCRIBE on guarded", everywhere(kerr.TopicAuthorizationFailed.Code))

	through := func(id int32) *kadm.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.brokers[id].Addr()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return kadm.NewClient(cl)
	}
	describe := kadm.NewACLs().Allow("User:ANONYMOUS").AllowHosts("*").Topics("guarded").ResourcePatternType(kadm.ACLPatternLiteral).Operations(kadm.OpDescribe)
	start := time.Now()
	res, err := through(1).CreateACLs(ctx, describe)
	if err != nil || len(res) != 1 || res[0].Err != nil {
		t.Fatalf("create through broker 1: %v %+v", err, res)
	}
	poll.Must(t, 5*time.Second, "every broker allows DESCRIBE on guarded", everywhere(0))
	t.Logf("ACL created through broker 1 in effect on all 3 after %v (metadata.poll.interval %v)", time.Since(start).Round(time.Millisecond), poll50)

	// Broker 3 lists it too.
	dr := kmsg.NewPtrDescribeACLsRequest()
	dr.ResourceType, dr.ResourceName, dr.ResourcePatternType = kmsg.ACLResourceTypeTopic, kmsg.StringPtr("guarded"), kmsg.ACLResourcePatternTypeLiteral
	dr.Operation, dr.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	poll.Must(t, 5*time.Second, "broker 3 describes the ACL", func() error {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.brokers[3].Addr()))
		if err != nil {
			return err
		}
		defer cl.Close()
		resp, err := cl.SeedBrokers()[0].Request(ctx, dr)
		if err != nil {
			return err
		}
		if r := resp.(*kmsg.DescribeACLsResponse); r.ErrorCode != 0 || len(r.Resources) != 1 || len(r.Resources[0].ACLs) != 1 {
			return fmt.Errorf("broker 3 describes %+v", r)
		}
		return nil
	})

	start = time.Now()
	del, err := through(2).DeleteACLs(ctx, describe)
	if err != nil || len(del) != 1 || del[0].Err != nil || len(del[0].Deleted) != 1 {
		t.Fatalf("delete through broker 2: %v %+v", err, del)
	}
	poll.Must(t, 5*time.Second, "every broker denies DESCRIBE on guarded again", everywhere(kerr.TopicAuthorizationFailed.Code))
	t.Logf("ACL deleted through broker 2 out of effect on all 3 after %v", time.Since(start).Round(time.Millisecond))
}
