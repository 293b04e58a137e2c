package auth

import (
	"net"
	"testing"
)

// The codes are Kafka's wire values (AclOperation, ResourceType): the ACL
// APIs of the security issue send them as they are.
func TestKafkaCodes(t *testing.T) {
	for _, c := range []struct {
		got  int8
		want int8
		name string
	}{
		{int8(OpRead), 3, OpRead.String()}, {int8(OpIdempotentWrite), 12, OpIdempotentWrite.String()},
		{int8(ResourceTopic), 2, ResourceTopic.String()}, {int8(ResourceTransactionalID), 5, ResourceTransactionalID.String()},
		{int8(PatternLiteral), 3, "LITERAL"}, {int8(PatternPrefixed), 4, "PREFIXED"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, Kafka's code is %d", c.name, c.got, c.want)
		}
	}
	if OpRead.String() != "READ" || ResourceTransactionalID.String() != "TRANSACTIONAL_ID" || Operation(99).String() != "UNKNOWN" {
		t.Errorf("names: %s %s %s", OpRead, ResourceTransactionalID, Operation(99))
	}
}

func TestSession(t *testing.T) {
	s := NewSession("PLAINTEXT", Plaintext, &net.TCPAddr{IP: net.ParseIP("10.0.0.7"), Port: 50123})
	if s.Host() != "10.0.0.7" || s.Principal != Anonymous || s.Principal.String() != "User:ANONYMOUS" || s.SASL.Stage != SASLNone {
		t.Fatalf("new session %+v: host %q", s, s.Host())
	}
	if (&Session{}).Host() != "" {
		t.Fatal("a session without an address has a host")
	}
}

func TestAllowAllAnswersEveryAction(t *testing.T) {
	acts := []Action{{Op: OpWrite, Resource: Topic("t")}, {Op: OpRead, Resource: Group("g")}, {Op: OpClusterAction, Resource: Cluster()}}
	res := AllowAll{}.Authorize(t.Context(), &Request{}, acts)
	if len(res) != len(acts) {
		t.Fatalf("%d results for %d actions", len(res), len(acts))
	}
	for i, r := range res {
		if r != Allowed {
			t.Errorf("action %d: %v", i, r)
		}
	}
}
