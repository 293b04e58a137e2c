package meta

import (
	"context"
	"fmt"
	"sort"

	"github.com/kafki/kafki/lambdas/triggers"
)

// The embedded store keeps Lambda trigger definitions in its document
// (triggers.Store): each write is durable before it returns, like every
// other change. Status writes rewrite the document too; runners write a
// status only when it changed.
var _ triggers.Store = (*Embedded)(nil)

// Triggers implements triggers.Store.
func (e *Embedded) Triggers(ctx context.Context) ([]triggers.Stored, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]triggers.Stored, 0, len(e.doc.Triggers))
	for id, r := range e.doc.Triggers {
		out = append(out, triggers.Stored{ID: id, Definition: append([]byte(nil), r.Definition...),
			Status: append([]byte(nil), r.Status...), Version: r.Version})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// PutTrigger implements triggers.Store.
func (e *Embedded) PutTrigger(ctx context.Context, id string, def []byte, version int64) (int64, error) {
	var next int64
	err := e.update(func(d *embeddedDoc) error {
		cur, ok := d.Triggers[id]
		switch {
		case version == 0 && ok:
			return fmt.Errorf("%w: %q", triggers.ErrExists, id)
		case version != 0 && !ok:
			return fmt.Errorf("%w: %q", triggers.ErrNotFound, id)
		case version != 0 && cur.Version != version:
			return fmt.Errorf("%w: %q", triggers.ErrConflict, id)
		}
		cur.Definition, cur.Version = append([]byte(nil), def...), cur.Version+1
		next = cur.Version
		d.Triggers[id] = cur
		return nil
	})
	return next, err
}

// DeleteTrigger implements triggers.Store.
func (e *Embedded) DeleteTrigger(ctx context.Context, id string, version int64) error {
	return e.update(func(d *embeddedDoc) error {
		cur, ok := d.Triggers[id]
		if !ok {
			return fmt.Errorf("%w: %q", triggers.ErrNotFound, id)
		}
		if version != 0 && cur.Version != version {
			return fmt.Errorf("%w: %q", triggers.ErrConflict, id)
		}
		delete(d.Triggers, id)
		return nil
	})
}

// PutTriggerStatus implements triggers.Store.
func (e *Embedded) PutTriggerStatus(ctx context.Context, id string, status []byte) error {
	return e.update(func(d *embeddedDoc) error {
		cur, ok := d.Triggers[id]
		if !ok {
			return fmt.Errorf("%w: %q", triggers.ErrNotFound, id)
		}
		cur.Status = append([]byte(nil), status...)
		d.Triggers[id] = cur
		return nil
	})
}
