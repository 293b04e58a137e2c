package triggers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
)

// Store errors; implementations wrap them (test with errors.Is).
var (
	ErrNotFound = errors.New("no such trigger")
	ErrExists   = errors.New("trigger already exists")
	// ErrConflict: the trigger changed since it was read.
	ErrConflict = errors.New("trigger changed concurrently")
)

// Stored is a trigger as a Store keeps it: the definition and the status
// as opaque JSON (this package owns their format), and a version that
// every definition write increments.
type Stored struct {
	ID         string
	Definition []byte
	Status     []byte // nil until a runner reported
	Version    int64
}

// Store is where trigger definitions live: the cluster's metadata store
// (brokerd/meta's embedded document on a single node, brokerd/metastore's
// DynamoDB table in a cluster), or a broker's admin endpoint (Client).
// Definition writes are compare-and-set on Version; status writes are
// last-writer-wins and never change Version.
type Store interface {
	// Triggers returns every trigger, sorted by id.
	Triggers(ctx context.Context) ([]Stored, error)
	// PutTrigger writes a definition: version 0 creates (ErrExists if
	// present), otherwise it replaces the one at that version
	// (ErrConflict, ErrNotFound). It returns the new version.
	PutTrigger(ctx context.Context, id string, def []byte, version int64) (int64, error)
	// DeleteTrigger removes the trigger at version (ErrConflict,
	// ErrNotFound); version 0 deletes whatever version is there.
	DeleteTrigger(ctx context.Context, id string, version int64) error
	// PutTriggerStatus replaces the status of an existing trigger
	// (ErrNotFound).
	PutTriggerStatus(ctx context.Context, id string, status []byte) error
}

// Trigger is a decoded Stored.
type Trigger struct {
	Definition
	Version int64
	Status  Status
}

// List decodes every trigger of s; an undecodable one is an error.
func List(ctx context.Context, s Store) ([]Trigger, error) {
	raw, err := s.Triggers(ctx)
	if err != nil {
		return nil, fmt.Errorf("list triggers: %w", err)
	}
	out := make([]Trigger, 0, len(raw))
	for _, r := range raw {
		t, err := decodeStored(r)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func decodeStored(r Stored) (Trigger, error) {
	d, err := DecodeDefinition(r.Definition)
	if err != nil {
		return Trigger{}, fmt.Errorf("trigger %q is damaged in the store: %w", r.ID, err)
	}
	t := Trigger{Definition: d, Version: r.Version}
	if len(r.Status) > 0 {
		if err := json.Unmarshal(r.Status, &t.Status); err != nil {
			return Trigger{}, fmt.Errorf("trigger %q: damaged status: %w", r.ID, err)
		}
	}
	return t, nil
}

// Get returns one trigger (ErrNotFound).
func Get(ctx context.Context, s Store, id string) (Trigger, error) {
	all, err := List(ctx, s)
	if err != nil {
		return Trigger{}, err
	}
	for _, t := range all {
		if t.ID == id {
			return t, nil
		}
	}
	return Trigger{}, fmt.Errorf("%w: %q", ErrNotFound, id)
}

// Create validates and stores a new trigger.
func Create(ctx context.Context, s Store, d Definition) (Trigger, error) {
	if err := d.Validate(); err != nil {
		return Trigger{}, err
	}
	v, err := s.PutTrigger(ctx, d.ID, d.Encode(), 0)
	if err != nil {
		return Trigger{}, fmt.Errorf("create trigger %q: %w", d.ID, err)
	}
	return Trigger{Definition: d, Version: v}, nil
}

// Declare creates each of the declared triggers that does not exist yet
// and leaves existing ones as they are: declarations (a deployment's
// triggers, the CDK app's -c triggers) seed the store once, and changes
// made afterwards with kafki triggers update are kept across restarts.
// raw is {"triggers": [definition, ...]}, each with NewDefinition's
// defaults for what it omits. It returns the ids it created.
func Declare(ctx context.Context, s Store, raw []byte) ([]string, error) {
	var doc struct {
		Triggers []json.RawMessage `json:"triggers"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%w: declarations: %v", ErrInvalid, err)
	}
	defs := make([]Definition, len(doc.Triggers))
	for i, r := range doc.Triggers {
		d, err := DecodeDefinition(r)
		if err == nil {
			err = d.Validate()
		}
		if err != nil {
			return nil, fmt.Errorf("declared trigger %d: %w", i+1, err)
		}
		defs[i] = d
	}
	var created []string
	for _, d := range defs {
		if _, err := Create(ctx, s, d); errors.Is(err, ErrExists) {
			continue
		} else if err != nil {
			return created, err
		}
		created = append(created, d.ID)
	}
	return created, nil
}

// Update applies fn to the stored definition and writes it back,
// re-reading on a concurrent change.
func Update(ctx context.Context, s Store, id string, fn func(*Definition) error) (Trigger, error) {
	for attempt := 0; ; attempt++ {
		t, err := Get(ctx, s, id)
		if err != nil {
			return Trigger{}, err
		}
		d := t.Definition
		if err := fn(&d); err != nil {
			return Trigger{}, err
		}
		if d.ID != id {
			return Trigger{}, fmt.Errorf("%w: the id cannot change", ErrInvalid)
		}
		if err := d.Validate(); err != nil {
			return Trigger{}, err
		}
		v, err := s.PutTrigger(ctx, id, d.Encode(), t.Version)
		if errors.Is(err, ErrConflict) && attempt < 10 {
			continue
		}
		if err != nil {
			return Trigger{}, fmt.Errorf("update trigger %q: %w", id, err)
		}
		return Trigger{Definition: d, Version: v, Status: t.Status}, nil
	}
}

// MemStore is an in-memory Store (tests, and kafki-triggers --definitions).
type MemStore struct {
	mu sync.Mutex
	m  map[string]Stored // guarded by mu
}

// NewMemStore returns an empty store.
func NewMemStore() *MemStore { return &MemStore{m: map[string]Stored{}} }

// Triggers implements Store.
func (s *MemStore) Triggers(ctx context.Context) ([]Stored, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Stored, 0, len(s.m))
	for _, v := range s.m {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// PutTrigger implements Store.
func (s *MemStore) PutTrigger(ctx context.Context, id string, def []byte, version int64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.m[id]
	switch {
	case version == 0 && ok:
		return 0, fmt.Errorf("%w: %q", ErrExists, id)
	case version != 0 && !ok:
		return 0, fmt.Errorf("%w: %q", ErrNotFound, id)
	case version != 0 && cur.Version != version:
		return 0, fmt.Errorf("%w: %q", ErrConflict, id)
	}
	cur.ID, cur.Definition, cur.Version = id, append([]byte(nil), def...), cur.Version+1
	s.m[id] = cur
	return cur.Version, nil
}

// DeleteTrigger implements Store.
func (s *MemStore) DeleteTrigger(ctx context.Context, id string, version int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.m[id]
	if !ok {
		return fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if version != 0 && cur.Version != version {
		return fmt.Errorf("%w: %q", ErrConflict, id)
	}
	delete(s.m, id)
	return nil
}

// PutTriggerStatus implements Store.
func (s *MemStore) PutTriggerStatus(ctx context.Context, id string, status []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.m[id]
	if !ok {
		return fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	cur.Status = append([]byte(nil), status...)
	s.m[id] = cur
	return nil
}
