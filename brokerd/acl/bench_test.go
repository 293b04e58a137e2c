package acl

import (
	"context"
	"fmt"
	"testing"

	"github.com/kafki/kafki/brokerd/auth"
)

// benchAuthorizer holds 10,000 bindings: for 1,000 principals, a literal
// WRITE and READ on their own topics, a prefixed READ on their own
// prefix, a literal READ on their group, and every tenth a prefixed DENY
// and a host-restricted ALLOW; plus wildcard bindings of other principals.
func benchAuthorizer(b *testing.B) *Authorizer {
	var bs []Binding
	for i := 0; len(bs) < 10_000; i++ {
		p := fmt.Sprintf("User:app%d", i)
		bs = append(bs,
			allow(tp, lit, fmt.Sprintf("orders-%d", i), p, "*", auth.OpWrite),
			allow(tp, lit, fmt.Sprintf("events-%d", i), p, "*", auth.OpRead),
			allow(tp, pre, fmt.Sprintf("tenant%d.", i), p, "*", auth.OpRead),
			allow(grp, lit, fmt.Sprintf("group-%d", i), p, "*", auth.OpRead),
		)
		if i%10 == 0 {
			bs = append(bs,
				deny(tp, pre, fmt.Sprintf("tenant%d.secret", i), p, "*", auth.OpAll),
				allow(tp, lit, fmt.Sprintf("metrics-%d", i), p, fmt.Sprintf("10.0.%d.%d", i/256, i%256), auth.OpWrite),
			)
		}
		if i%100 == 0 {
			bs = append(bs, allow(tp, lit, "*", fmt.Sprintf("User:ops%d", i), "*", auth.OpDescribe))
		}
	}
	if len(bs) != 10_000 {
		bs = bs[:10_000]
	}
	return newAuthorizer(b, Options{}, bs...)
}

// BenchmarkAuthorize measures decisions with 10,000 bindings: a produce's
// WRITE on one topic, a fetch's READ through a prefixed binding, a
// denied READ under a prefixed DENY, and a produce to 8 topics, each
// without allocating.
func BenchmarkAuthorize(b *testing.B) {
	a := benchAuthorizer(b)
	req := request("User:app500", "10.0.1.244")
	cases := []struct {
		name    string
		actions []auth.Action
		want    auth.Result
	}{
		{"produce-literal", []auth.Action{{Op: auth.OpWrite, Resource: auth.Topic("orders-500")}}, auth.Allowed},
		{"fetch-prefixed", []auth.Action{{Op: auth.OpRead, Resource: auth.Topic("tenant500.clicks")}}, auth.Allowed},
		{"denied-prefixed", []auth.Action{{Op: auth.OpRead, Resource: auth.Topic("tenant500.secret-keys")}}, auth.Denied},
		{"describe-implied", []auth.Action{{Op: auth.OpDescribe, Resource: auth.Topic("orders-500")}}, auth.Allowed},
		{"host-restricted", []auth.Action{{Op: auth.OpWrite, Resource: auth.Topic("metrics-500")}}, auth.Allowed},
		{"no-acl", []auth.Action{{Op: auth.OpWrite, Resource: auth.Topic("unknown-topic")}}, auth.Denied},
	}
	var eight []auth.Action
	for i := 0; i < 8; i++ {
		eight = append(eight, auth.Action{Op: auth.OpWrite, Resource: auth.Topic("orders-500")})
	}
	cases = append(cases, struct {
		name    string
		actions []auth.Action
		want    auth.Result
	}{"produce-8-topics", eight, auth.Allowed})
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			dst := make([]auth.Result, 0, 8)
			if got := a.AppendAuthorize(dst, req, c.actions)[0]; got != c.want {
				b.Fatalf("got %v, want %v", got, c.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				dst = a.AppendAuthorize(dst[:0], req, c.actions)
			}
		})
	}
	b.Run("Authorize-interface", func(b *testing.B) {
		actions := cases[0].actions
		b.ReportAllocs()
		for b.Loop() {
			a.Authorize(context.Background(), req, actions)
		}
	})
}
