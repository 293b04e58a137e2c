package sasl_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/internal/testbroker"
	"github.com/kafki/kafki/internal/poll"
	"github.com/kafki/kafki/tiering/mototest"
)

// In a 3-broker cluster (DynamoDB metadata on moto), a user created
// through one broker logs in on the others within a metadata poll, and a
// deleted one is refused there as quickly.
func TestUsersPropagateAcrossTheCluster(t *testing.T) {
	moto := mototest.StartT(t)
	moto.Env(t)
	table := fmt.Sprintf("kafki-sasl-%d", time.Now().UnixNano())
	const pollInterval = 200 * time.Millisecond
	clustered := func(id int32) testbroker.Option {
		return testbroker.WithConfig(func(c *config.Config) {
			c.NodeID = id
			c.MetadataStore, c.MetadataTable, c.MetadataCreateTable = config.MetadataDynamoDB, table, true
			c.MetadataPollInterval = pollInterval
			c.SessionLease = 2 * time.Second
		})
	}
	one := startSASL(t, clustered(1))
	others := []*saslBroker{startSASL(t, clustered(2)), startSASL(t, clustered(3))}

	one.createUser(t, "dana", "dana-Secret-8")
	created := time.Now()
	for i, b := range others {
		b.secret("dana-Secret-8")
		poll.Must(t, 5*time.Second, fmt.Sprintf("broker %d accepts the user created through broker 1", i+2), func() error {
			return ping(t, b.saslClient(t, mechanism("SCRAM-SHA-512", "dana", "dana-Secret-8")))
		})
	}
	took := time.Since(created)
	t.Logf("a new user was accepted by both other brokers %v after its creation (metadata.poll.interval %v, logins included)", took.Round(time.Millisecond), pollInterval)
	if took > 2*time.Second {
		t.Fatalf("the other brokers took %v to accept a new user; want about one metadata poll (%v)", took, pollInterval)
	}

	res, err := admin(t, one.Addr()).AlterUserSCRAMs(t.Context(), []kadm.DeleteSCRAM{
		{User: "dana", Mechanism: kadm.ScramSha256}, {User: "dana", Mechanism: kadm.ScramSha512},
	}, nil)
	if err != nil || res.Error() != nil {
		t.Fatalf("delete: %v %v", err, res.Error())
	}
	for i, b := range others {
		poll.Must(t, 5*time.Second, fmt.Sprintf("broker %d refuses the deleted user", i+2), func() error {
			if ping(t, b.saslClient(t, mechanism("SCRAM-SHA-512", "dana", "dana-Secret-8"))) == nil {
				return fmt.Errorf("still accepted")
			}
			return nil
		})
		d, err := admin(t, b.Addr()).DescribeUserSCRAMs(t.Context())
		if err != nil || len(d) != 0 {
			t.Fatalf("broker %d still describes %+v (%v)", i+2, d, err)
		}
	}
}
