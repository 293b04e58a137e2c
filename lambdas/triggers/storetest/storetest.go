// Package storetest is the contract test every triggers.Store passes:
// the embedded metadata document, the DynamoDB table, the admin client,
// the in-memory store.
package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/kafki/kafki/lambdas/triggers"
)

// Run checks s, which must start empty. reopen, when not nil, returns
// the store read afresh from its durable form.
func Run(t *testing.T, s triggers.Store, reopen func() triggers.Store) {
	ctx := context.Background()
	d := triggers.NewDefinition("t1", "fn", "orders")
	v1, err := s.PutTrigger(ctx, "t1", d.Encode(), 0)
	if err != nil || v1 < 1 {
		t.Fatalf("create: %d, %v", v1, err)
	}
	if _, err := s.PutTrigger(ctx, "t1", d.Encode(), 0); !errors.Is(err, triggers.ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	d.BatchSize = 7
	v2, err := s.PutTrigger(ctx, "t1", d.Encode(), v1)
	if err != nil || v2 <= v1 {
		t.Fatalf("update: %d, %v", v2, err)
	}
	if _, err := s.PutTrigger(ctx, "t1", d.Encode(), v1); !errors.Is(err, triggers.ErrConflict) {
		t.Fatalf("stale update: %v, want ErrConflict", err)
	}
	nope := triggers.NewDefinition("nope", "fn", "orders")
	if _, err := s.PutTrigger(ctx, "nope", nope.Encode(), 3); !errors.Is(err, triggers.ErrNotFound) {
		t.Fatalf("update of a missing trigger: %v, want ErrNotFound", err)
	}
	if err := s.PutTriggerStatus(ctx, "t1", []byte(`{"state":"running"}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutTriggerStatus(ctx, "nope", []byte(`{}`)); !errors.Is(err, triggers.ErrNotFound) {
		t.Fatalf("status of a missing trigger: %v, want ErrNotFound", err)
	}
	check := func(s triggers.Store) {
		all, err := triggers.List(ctx, s)
		if err != nil || len(all) != 1 || all[0].BatchSize != 7 || all[0].Version != v2 || all[0].Status.State != "running" {
			t.Fatalf("list: %+v, %v", all, err)
		}
	}
	check(s)
	if reopen != nil {
		s = reopen()
		check(s)
	}
	if err := s.DeleteTrigger(ctx, "t1", v1); !errors.Is(err, triggers.ErrConflict) {
		t.Fatalf("stale delete: %v, want ErrConflict", err)
	}
	if err := s.DeleteTrigger(ctx, "t1", v2); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTrigger(ctx, "t1", 0); !errors.Is(err, triggers.ErrNotFound) {
		t.Fatalf("second delete: %v, want ErrNotFound", err)
	}
	if err := s.PutTriggerStatus(ctx, "t1", []byte(`{}`)); !errors.Is(err, triggers.ErrNotFound) {
		t.Fatalf("status after delete: %v (a late report must not resurrect it)", err)
	}
}
