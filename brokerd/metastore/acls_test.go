package metastore

import (
	"testing"

	"github.com/kafki/kafki/brokerd/acl"
	"github.com/kafki/kafki/brokerd/acl/storetest"
)

// The ACL items keep acl.Store's contract, and every ACL write moves the
// metadata version brokers poll, so it reaches them within one poll.
func TestACLItems(t *testing.T) {
	client, table := newTable(t)
	s := New(client, table)
	before, err := s.MetadataVersion(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	storetest.Run(t, s, func() acl.Store { return New(client, table) })
	after, err := s.MetadataVersion(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if after <= before {
		t.Fatalf("metadata version %d after ACL writes, was %d", after, before)
	}
}
