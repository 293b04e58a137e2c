package topics

import (
	"context"
	"maps"

	"github.com/kafki/kafki/brokerd/meta"
)

// Apply makes the local topics match the cluster's (a snapshot of the
// shared metadata store that other brokers change): it opens the logs of
// new topics and partitions, applies config changes and deletes the data
// of topics that are gone. A topic deleted and re-created under the same
// name has a new id; its old data is deleted first. Errors are logged per
// topic and the others are still applied: the next snapshot retries.
//
// token is ChangeToken taken before the snapshot was read. A topic this
// manager created, deleted or changed after it is left as it is here: the
// snapshot may predate that change, and applying it would undo it (delete
// a topic just created, with whatever was written to it). The next
// snapshot settles such a topic.
func (m *Manager) Apply(ctx context.Context, all []meta.Topic, token uint64) {
	want := make(map[string]meta.Topic, len(all))
	for _, mt := range all {
		want[mt.Name] = mt
	}
	var gone []*Topic
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	newer := func(name string) bool { return m.changedAt[name] > token }
	for name, seq := range m.changedAt {
		if seq <= token {
			delete(m.changedAt, name) // in the store before this read
		}
	}
	for name, t := range m.topics {
		if newer(name) {
			continue
		}
		if mt, ok := want[name]; !ok || mt.ID != t.ID {
			delete(m.topics, name)
			delete(m.byID, t.ID)
			gone = append(gone, t)
		}
	}
	for _, mt := range all {
		prev := m.topics[mt.Name]
		switch {
		case newer(mt.Name):
		case prev == nil:
			t, err := m.openTopic(mt, nil)
			if err != nil {
				m.log.Error("cannot open topic created elsewhere", "topic", mt.Name, "err", err)
				continue
			}
			m.topics[mt.Name], m.byID[t.ID] = t, t
			m.log.Info("topic appeared", "topic", mt.Name, "partitions", mt.Partitions)
		case int(mt.Partitions) > len(prev.Partitions):
			t, err := m.openTopic(mt, prev)
			if err != nil {
				m.log.Error("cannot open new partitions", "topic", mt.Name, "err", err)
				continue
			}
			m.topics[mt.Name], m.byID[t.ID] = t, t
		case !maps.Equal(mt.Configs, prev.Overrides):
			s, err := resolve(m.opts.Defaults, mt.Configs)
			if err != nil {
				m.log.Error("topic configs from the store do not resolve", "topic", mt.Name, "err", err)
				continue
			}
			nt := *prev
			nt.Overrides = mt.Configs
			prev.settings.Store(&s)
			for _, p := range prev.Partitions {
				p.log.SetConfig(m.logConfig(s))
			}
			m.topics[mt.Name], m.byID[nt.ID] = &nt, &nt
		}
	}
	m.mu.Unlock()
	for _, t := range gone {
		for _, p := range t.Partitions {
			p.BecomeNone(-1, 0)
			if err := p.log.Delete(); err != nil {
				m.log.Error("delete partition of a deleted topic", "topic", t.Name, "partition", p.Index, "err", err)
			}
		}
		m.log.Info("topic deleted elsewhere; local data removed", "topic", t.Name)
	}
	_ = ctx
}
