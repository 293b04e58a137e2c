package metastore

import (
	"errors"
	"testing"

	"github.com/kafki/kafki/brokerd/sasl"
)

// SCRAM credentials round-trip through the table, each write bumps the
// metadata version (so brokers refresh), and deleting a missing one is
// sasl.ErrNoCredential.
func TestScramUsers(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	v0, err := s.MetadataVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := sasl.ScramCredential{Salt: []byte("salt"), StoredKey: []byte("sk"), ServerKey: []byte("svk"), Iterations: 8192}
	for _, u := range []string{"bob", "a/lice"} {
		if err := s.PutScramCredential(ctx, u, sasl.SHA512, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutScramCredential(ctx, "bob", sasl.SHA256, c); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.MetadataVersion(ctx); v != v0+3 {
		t.Fatalf("metadata version %d after 3 writes from %d", v, v0)
	}
	users, err := s.ScramUsers(ctx)
	if err != nil || len(users) != 2 || users[0].Name != "a/lice" || len(users[1].Credentials) != 2 {
		t.Fatalf("users %+v %v", users, err)
	}
	if got := users[1].Credentials[sasl.SHA256]; got.Iterations != 8192 || string(got.StoredKey) != "sk" || string(got.Salt) != "salt" {
		t.Fatalf("credential %+v", got)
	}
	if err := s.DeleteScramCredential(ctx, "bob", sasl.SHA256); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteScramCredential(ctx, "bob", sasl.SHA256); !errors.Is(err, sasl.ErrNoCredential) {
		t.Fatalf("second delete: %v", err)
	}
	if users, _ := s.ScramUsers(ctx); len(users[1].Credentials) != 1 {
		t.Fatalf("after delete %+v", users)
	}
}
