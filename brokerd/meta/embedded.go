package meta

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
)

const (
	embeddedFile    = "metadata.json"
	embeddedVersion = 1
)

// Embedded is the single-node Store: one JSON document, rewritten
// atomically on every change. Safe for concurrent use.
type Embedded struct {
	path string

	mu  sync.Mutex
	doc embeddedDoc // guarded by mu; always equal to the file's content
}

type embeddedDoc struct {
	FormatVersion  int                    `json:"format_version"`
	NextProducerID int64                  `json:"next_producer_id"`
	Topics         map[string]topicRecord `json:"topics"`
	// Triggers are Lambda trigger definitions (package lambdas/triggers
	// owns their JSON; this store keeps it opaque). Added without a
	// format version change: older files have none.
	Triggers map[string]triggerRecord `json:"triggers,omitempty"`

	// ACLs are Kafka ACL bindings (acls.go); ACLVersion counts their
	// changes. Added without a format version change: older files have
	// none. Writers replace the slice, never modify it in place.
	ACLs       []aclRecord `json:"acls,omitempty"`
	ACLVersion int64       `json:"acl_version,omitempty"`

	// ScramUsers are the SCRAM credentials of users (users.go), by user
	// and mechanism name. Added without a format version change.
	ScramUsers map[string]map[string]scramRecord `json:"scram_users,omitempty"`
}

type triggerRecord struct {
	Definition json.RawMessage `json:"definition"`
	Status     json.RawMessage `json:"status,omitempty"`
	Version    int64           `json:"version"`
}

type topicRecord struct {
	ID         string            `json:"id"`
	Partitions int32             `json:"partitions"`
	RF         int16             `json:"replication_factor,omitempty"`
	Configs    map[string]string `json:"configs,omitempty"`
}

// OpenEmbedded opens (or creates) the store in dir.
func OpenEmbedded(dir string) (*Embedded, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("metadata dir: %w", err)
	}
	e := &Embedded{path: filepath.Join(dir, embeddedFile)}
	raw, err := os.ReadFile(e.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		e.doc = embeddedDoc{FormatVersion: embeddedVersion, NextProducerID: 1000, Topics: map[string]topicRecord{}}
		if err := e.persist(e.doc); err != nil {
			return nil, err
		}
		return e, nil
	case err != nil:
		return nil, fmt.Errorf("read metadata: %w", err)
	}
	if err := json.Unmarshal(raw, &e.doc); err != nil {
		return nil, fmt.Errorf("metadata file %s is damaged (%v); restore it from a backup or move it away to start empty", e.path, err)
	}
	if e.doc.FormatVersion != embeddedVersion {
		return nil, fmt.Errorf("metadata file %s has format version %d, this broker reads %d", e.path, e.doc.FormatVersion, embeddedVersion)
	}
	if e.doc.Topics == nil {
		e.doc.Topics = map[string]topicRecord{}
	}
	for name, r := range e.doc.Topics {
		if _, err := parseID(r.ID); err != nil || r.Partitions < 1 {
			return nil, fmt.Errorf("metadata file %s: topic %q is damaged", e.path, name)
		}
	}
	return e, nil
}

func parseID(s string) (TopicID, error) {
	var id TopicID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("bad topic id %q", s)
	}
	copy(id[:], b)
	return id, nil
}

// persist writes doc durably: temp file, fsync, rename, fsync of the dir.
func (e *Embedded) persist(doc embeddedDoc) error {
	raw, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("encode metadata: %w", err)
	}
	tmp := e.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("write metadata: %w", err)
	}
	if _, err := f.Write(raw); err != nil {
		f.Close()
		return fmt.Errorf("write metadata: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync metadata: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close metadata: %w", err)
	}
	if err := os.Rename(tmp, e.path); err != nil {
		return fmt.Errorf("install metadata: %w", err)
	}
	d, err := os.Open(filepath.Dir(e.path))
	if err != nil {
		return fmt.Errorf("sync metadata dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync metadata dir: %w", err)
	}
	return nil
}

// update runs fn on a copy of the document and persists it; the in-memory
// document changes only once the file has.
func (e *Embedded) update(fn func(*embeddedDoc) error) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	next := e.doc
	next.Topics = make(map[string]topicRecord, len(e.doc.Topics))
	for k, v := range e.doc.Topics {
		next.Topics[k] = v
	}
	next.Triggers = make(map[string]triggerRecord, len(e.doc.Triggers))
	for k, v := range e.doc.Triggers {
		next.Triggers[k] = v
	}
	if err := fn(&next); err != nil {
		return err
	}
	if err := e.persist(next); err != nil {
		return err
	}
	e.doc = next
	return nil
}

func toTopic(name string, r topicRecord) Topic {
	id, _ := parseID(r.ID) // validated on load and on write
	t := Topic{Name: name, ID: id, Partitions: r.Partitions, ReplicationFactor: r.RF, Configs: map[string]string{}}
	for k, v := range r.Configs {
		t.Configs[k] = v
	}
	return t
}

func fromTopic(t Topic) topicRecord {
	r := topicRecord{ID: hex.EncodeToString(t.ID[:]), Partitions: t.Partitions, RF: t.ReplicationFactor}
	if len(t.Configs) > 0 {
		r.Configs = make(map[string]string, len(t.Configs))
		for k, v := range t.Configs {
			r.Configs[k] = v
		}
	}
	return r
}

// Topics implements Store.
func (e *Embedded) Topics(ctx context.Context) ([]Topic, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Topic, 0, len(e.doc.Topics))
	for name, r := range e.doc.Topics {
		out = append(out, toTopic(name, r))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// CreateTopic implements Store.
func (e *Embedded) CreateTopic(ctx context.Context, t Topic) error {
	if t.Partitions < 1 {
		return fmt.Errorf("topic %q: %d partitions", t.Name, t.Partitions)
	}
	return e.update(func(d *embeddedDoc) error {
		if _, ok := d.Topics[t.Name]; ok {
			return fmt.Errorf("%w: %q", ErrTopicExists, t.Name)
		}
		d.Topics[t.Name] = fromTopic(t)
		return nil
	})
}

// DeleteTopic implements Store.
func (e *Embedded) DeleteTopic(ctx context.Context, name string) error {
	return e.update(func(d *embeddedDoc) error {
		if _, ok := d.Topics[name]; !ok {
			return fmt.Errorf("%w: %q", ErrUnknownTopic, name)
		}
		delete(d.Topics, name)
		return nil
	})
}

// UpdateTopic implements Store.
func (e *Embedded) UpdateTopic(ctx context.Context, name string, fn func(*Topic) error) (Topic, error) {
	var out Topic
	err := e.update(func(d *embeddedDoc) error {
		r, ok := d.Topics[name]
		if !ok {
			return fmt.Errorf("%w: %q", ErrUnknownTopic, name)
		}
		t := toTopic(name, r)
		if err := fn(&t); err != nil {
			return err
		}
		if t.Name != name || t.ID != toTopic(name, r).ID || t.Partitions < 1 {
			return fmt.Errorf("topic %q: update may not change name or id, and needs >= 1 partition", name)
		}
		d.Topics[name] = fromTopic(t)
		out = t
		return nil
	})
	return out, err
}

// AllocateProducerIDs implements Store.
func (e *Embedded) AllocateProducerIDs(ctx context.Context, n int64) (int64, error) {
	if n < 1 {
		return 0, fmt.Errorf("allocate %d producer ids", n)
	}
	var first int64
	err := e.update(func(d *embeddedDoc) error {
		first = d.NextProducerID
		d.NextProducerID += n
		return nil
	})
	return first, err
}

// Close implements Store.
func (e *Embedded) Close() error { return nil }
