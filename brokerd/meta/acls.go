package meta

import (
	"context"

	"github.com/kafki/kafki/brokerd/acl"
	"github.com/kafki/kafki/brokerd/auth"
)

// The embedded store keeps Kafka ACL bindings (acl.Store) in its
// document, each write durable before it returns like every other
// change. On a single node the one authorizer reloads after its own
// writes, so no poll is needed; ACLVersion still moves with every change
// that changed something, as acl.Store requires.
var _ acl.Store = (*Embedded)(nil)

type aclRecord struct {
	ResourceType int8   `json:"resource_type"`
	Name         string `json:"name"`
	PatternType  int8   `json:"pattern_type"`
	Principal    string `json:"principal"`
	Host         string `json:"host"`
	Operation    int8   `json:"operation"`
	Permission   int8   `json:"permission"`
}

func toACLRecord(b acl.Binding) aclRecord {
	return aclRecord{ResourceType: int8(b.Resource.Type), Name: b.Resource.Name, PatternType: int8(b.Resource.Pattern),
		Principal: b.Principal, Host: b.Host, Operation: int8(b.Op), Permission: int8(b.Permission)}
}

func (r aclRecord) binding() acl.Binding {
	return acl.Binding{
		Resource:  auth.Resource{Type: auth.ResourceType(r.ResourceType), Name: r.Name, Pattern: auth.PatternType(r.PatternType)},
		Principal: r.Principal, Host: r.Host, Op: auth.Operation(r.Operation), Permission: acl.Permission(r.Permission),
	}
}

// ACLs implements acl.Store.
func (e *Embedded) ACLs(ctx context.Context) ([]acl.Binding, int64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]acl.Binding, len(e.doc.ACLs))
	for i, r := range e.doc.ACLs {
		out[i] = r.binding()
	}
	return out, e.doc.ACLVersion, nil
}

// ACLVersion implements acl.Store.
func (e *Embedded) ACLVersion(ctx context.Context) (int64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.doc.ACLVersion, nil
}

// PutACLs implements acl.Store.
func (e *Embedded) PutACLs(ctx context.Context, bs []acl.Binding) error {
	return e.update(func(d *embeddedDoc) error {
		have := make(map[aclRecord]bool, len(d.ACLs))
		next := make([]aclRecord, 0, len(d.ACLs)+len(bs))
		for _, r := range d.ACLs {
			have[r] = true
			next = append(next, r)
		}
		for _, b := range bs {
			if r := toACLRecord(b); !have[r] {
				have[r] = true
				next = append(next, r)
			}
		}
		if len(next) != len(d.ACLs) {
			d.ACLs, d.ACLVersion = next, d.ACLVersion+1
		}
		return nil
	})
}

// DeleteACLs implements acl.Store.
func (e *Embedded) DeleteACLs(ctx context.Context, bs []acl.Binding) error {
	return e.update(func(d *embeddedDoc) error {
		gone := make(map[aclRecord]bool, len(bs))
		for _, b := range bs {
			gone[toACLRecord(b)] = true
		}
		next := make([]aclRecord, 0, len(d.ACLs))
		for _, r := range d.ACLs {
			if !gone[r] {
				next = append(next, r)
			}
		}
		if len(next) != len(d.ACLs) {
			d.ACLs, d.ACLVersion = next, d.ACLVersion+1
		}
		return nil
	})
}
