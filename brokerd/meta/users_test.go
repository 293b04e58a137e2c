package meta

import (
	"errors"
	"testing"

	"github.com/kafki/kafki/brokerd/sasl"
)

// SCRAM credentials survive a reopen, a deletion removes only its
// mechanism, and the last one removes the user.
func TestEmbeddedScramUsers(t *testing.T) {
	dir := t.TempDir()
	e, err := OpenEmbedded(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	c := sasl.ScramCredential{Salt: []byte("salt"), StoredKey: []byte("sk"), ServerKey: []byte("svk"), Iterations: 4096}
	for _, m := range sasl.ScramMechanisms {
		if err := e.PutScramCredential(ctx, "alice", m, c); err != nil {
			t.Fatal(err)
		}
	}
	e.Close()
	if e, err = OpenEmbedded(dir); err != nil {
		t.Fatal(err)
	}
	users, err := e.ScramUsers(ctx)
	if err != nil || len(users) != 1 || len(users[0].Credentials) != 2 || string(users[0].Credentials[sasl.SHA512].StoredKey) != "sk" {
		t.Fatalf("after reopen: %+v %v", users, err)
	}
	if err := e.DeleteScramCredential(ctx, "alice", sasl.SHA256); err != nil {
		t.Fatal(err)
	}
	if err := e.DeleteScramCredential(ctx, "alice", sasl.SHA256); !errors.Is(err, sasl.ErrNoCredential) {
		t.Fatalf("second delete: %v", err)
	}
	if err := e.DeleteScramCredential(ctx, "alice", sasl.SHA512); err != nil {
		t.Fatal(err)
	}
	if users, _ := e.ScramUsers(ctx); len(users) != 0 {
		t.Fatalf("users left: %+v", users)
	}
}
