package triggers_test

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kafki/kafki/lambdas/triggers"
	"github.com/kafki/kafki/lambdas/triggers/storetest"
)

func TestMemStore(t *testing.T) { storetest.Run(t, triggers.NewMemStore(), nil) }

// The admin endpoint and its client keep the store's contract, errors
// included.
func TestAdminClient(t *testing.T) {
	srv := httptest.NewServer(&triggers.Admin{Store: triggers.NewMemStore()})
	defer srv.Close()
	storetest.Run(t, &triggers.Client{Base: srv.URL}, nil)
}

// Declarations create what is missing and keep what exists, edits
// included; a bad one creates nothing.
func TestDeclare(t *testing.T) {
	ctx := t.Context()
	s := triggers.NewMemStore()
	if _, err := triggers.Create(ctx, s, triggers.NewDefinition("orders", "sink", "orders")); err != nil {
		t.Fatal(err)
	}
	if _, err := triggers.Update(ctx, s, "orders", func(d *triggers.Definition) error { d.BatchSize = 7; return nil }); err != nil {
		t.Fatal(err)
	}
	decl := []byte(`{"triggers": [
		{"id": "orders", "function": "other", "topics": ["orders"]},
		{"id": "audit", "function": "arn:aws:lambda:us-east-1:123456789012:function:recorder", "topics": ["audit"], "starting_position": "TRIM_HORIZON"}]}`)
	created, err := triggers.Declare(ctx, s, decl)
	if err != nil || len(created) != 1 || created[0] != "audit" {
		t.Fatalf("created %v, %v; want [audit]", created, err)
	}
	if o, err := triggers.Get(ctx, s, "orders"); err != nil || o.Function != "sink" || o.BatchSize != 7 {
		t.Fatalf("existing trigger changed by a declaration: %+v, %v", o.Definition, err)
	}
	if a, err := triggers.Get(ctx, s, "audit"); err != nil || a.StartingPosition != triggers.TrimHorizon || a.BatchSize != triggers.DefaultBatchSize || !a.Enabled {
		t.Fatalf("declared trigger %+v, %v; want its fields over NewDefinition's defaults", a.Definition, err)
	}
	// Again: nothing new.
	if created, err := triggers.Declare(ctx, s, decl); err != nil || len(created) != 0 {
		t.Fatalf("second declaration created %v, %v", created, err)
	}
	bad := []byte(`{"triggers": [{"id": "x", "function": "f", "topics": ["t"]}, {"id": "y", "function": "f", "topics": ["t"], "batch_size": 0}]}`)
	if _, err := triggers.Declare(ctx, s, bad); !errors.Is(err, triggers.ErrInvalid) || !strings.Contains(err.Error(), "declared trigger 2") {
		t.Fatalf("bad declaration: %v, want ErrInvalid naming trigger 2", err)
	}
	if _, err := triggers.Get(ctx, s, "x"); !errors.Is(err, triggers.ErrNotFound) {
		t.Fatalf("a bad declaration created its good sibling: %v", err)
	}
}
