package acl

import (
	"context"
	"fmt"
)

// The administration of bindings behind CreateAcls, DescribeAcls and
// DeleteAcls. Writes go to the store, then this broker reloads at once
// (read-your-writes on the broker that served the request); the others
// see the change with their next Refresh (Run).

// Describe returns the bindings the filter selects, from the bindings
// decisions use now (in a cluster, at most one metadata poll behind
// writes made through other brokers). The caller validated f.
func (a *Authorizer) Describe(f Filter) []Binding {
	ix := a.ix.Load()
	if ix == nil {
		return nil
	}
	var out []Binding
	for _, b := range ix.bindings {
		if f.Matches(b) {
			out = append(out, b)
		}
	}
	return out
}

// Create stores bindings, each validated by the caller, and reloads.
func (a *Authorizer) Create(ctx context.Context, bs []Binding) error {
	if len(bs) == 0 {
		return nil
	}
	for _, b := range bs {
		if err := b.Validate(); err != nil {
			return err
		}
	}
	if err := a.o.Store.PutACLs(ctx, bs); err != nil {
		return fmt.Errorf("store ACLs: %w", err)
	}
	return a.Load(ctx)
}

// Delete removes every binding each filter selects (filters validated by
// the caller), from the store's current bindings rather than this
// broker's index, so that a binding created through another broker a
// moment ago is deleted too. It returns the deleted bindings per filter
// (a binding two filters select is listed under both, as in Kafka).
func (a *Authorizer) Delete(ctx context.Context, filters []Filter) ([][]Binding, error) {
	all, _, err := a.o.Store.ACLs(ctx)
	if err != nil {
		return nil, fmt.Errorf("read ACLs: %w", err)
	}
	sortBindings(all)
	out := make([][]Binding, len(filters))
	seen := map[Binding]bool{}
	var doomed []Binding
	for i, f := range filters {
		for _, b := range all {
			if !f.Matches(b) {
				continue
			}
			out[i] = append(out[i], b)
			if !seen[b] {
				seen[b] = true
				doomed = append(doomed, b)
			}
		}
	}
	if len(doomed) == 0 {
		return out, nil
	}
	if err := a.o.Store.DeleteACLs(ctx, doomed); err != nil {
		return nil, fmt.Errorf("delete ACLs: %w", err)
	}
	return out, a.Load(ctx)
}
