// Package storetest checks an acl.Store implementation against the
// contract every implementation shares (the embedded store, the
// DynamoDB table): bindings survive a reopen, creating an existing
// binding changes nothing, deleting removes exactly what was named, and
// the change counter moves with every change and never goes back.
package storetest

import (
	"context"
	"fmt"
	"sort"
	"testing"

	"github.com/kafki/kafki/brokerd/acl"
	"github.com/kafki/kafki/brokerd/auth"
)

// Run runs the contract on s; reopen returns a fresh store on the same
// data (a restarted broker, or another broker of the cluster).
func Run(t *testing.T, s acl.Store, reopen func() acl.Store) {
	t.Helper()
	ctx := context.Background()
	v0, err := s.ACLVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a := acl.Binding{Resource: auth.Topic("orders"), Principal: "User:alice", Host: "*", Op: auth.OpRead, Permission: acl.PermAllow}
	b := acl.Binding{Resource: auth.Resource{Type: auth.ResourceGroup, Name: "g-", Pattern: auth.PatternPrefixed},
		Principal: "User:bob with spaces|and:colons", Host: "10.0.0.1", Op: auth.OpAll, Permission: acl.PermDeny}
	c := acl.Binding{Resource: auth.Cluster(), Principal: "User:*", Host: "*", Op: auth.OpAlter, Permission: acl.PermAllow}
	if err := s.PutACLs(ctx, []acl.Binding{a, b}); err != nil {
		t.Fatal(err)
	}
	v1 := version(t, s)
	if v1 <= v0 {
		t.Fatalf("version %d after a put, was %d", v1, v0)
	}
	if err := s.PutACLs(ctx, []acl.Binding{a, c}); err != nil {
		t.Fatal(err)
	}
	v2 := version(t, s)
	if v2 <= v1 {
		t.Fatalf("version %d after a second put, was %d", v2, v1)
	}
	want := []acl.Binding{a, b, c}
	check(t, "after puts", s, want, v2)
	check(t, "reopened", reopen(), want, v2)

	if err := s.DeleteACLs(ctx, []acl.Binding{b, {Resource: auth.Topic("absent"), Principal: "User:x", Host: "*", Op: auth.OpRead, Permission: acl.PermAllow}}); err != nil {
		t.Fatal(err)
	}
	v3 := version(t, s)
	if v3 <= v2 {
		t.Fatalf("version %d after a delete, was %d", v3, v2)
	}
	check(t, "after delete", reopen(), []acl.Binding{a, c}, v3)

	// Many at once (more than one DynamoDB transaction holds).
	var many []acl.Binding
	for i := 0; i < 250; i++ {
		many = append(many, acl.Binding{Resource: auth.Topic(fmt.Sprintf("t%03d", i)), Principal: "User:m", Host: "*", Op: auth.OpWrite, Permission: acl.PermAllow})
	}
	if err := s.PutACLs(ctx, many); err != nil {
		t.Fatal(err)
	}
	got, _, err := reopen().ACLs(ctx)
	if err != nil || len(got) != 252 {
		t.Fatalf("after 250 puts: %d bindings, %v", len(got), err)
	}
	if err := s.DeleteACLs(ctx, many); err != nil {
		t.Fatal(err)
	}
	check(t, "after deleting many", reopen(), []acl.Binding{a, c}, version(t, s))
}

func version(t *testing.T, s acl.Store) int64 {
	t.Helper()
	v, err := s.ACLVersion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func check(t *testing.T, when string, s acl.Store, want []acl.Binding, atLeast int64) {
	t.Helper()
	got, v, err := s.ACLs(context.Background())
	if err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	if v < atLeast {
		t.Fatalf("%s: read at version %d, want at least %d", when, v, atLeast)
	}
	if fmt.Sprint(sorted(got)) != fmt.Sprint(sorted(want)) {
		t.Fatalf("%s:\n got %v\nwant %v", when, sorted(got), sorted(want))
	}
}

func sorted(bs []acl.Binding) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.String()
	}
	sort.Strings(out)
	return out
}
