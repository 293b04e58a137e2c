package topics_test

import (
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/kafki/kafki/brokerd/batch"
	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/meta"
	"github.com/kafki/kafki/brokerd/topics"
)

// openManager opens a manager on an embedded store, closed when the test
// ends. The store stands in for the cluster's: Apply is given snapshots
// built by the test.
func openManager(t *testing.T) (*topics.Manager, *meta.Embedded) {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	store, err := meta.OpenEmbedded(filepath.Join(cfg.DataDir, "__meta"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := topics.Open(t.Context(), topics.OptionsFrom(&cfg, slog.New(slog.NewTextHandler(io.Discard, nil))), store)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, store
}

func storeTopics(t *testing.T, s *meta.Embedded) []meta.Topic {
	t.Helper()
	all, err := s.Topics(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return all
}

// A snapshot read before this broker created a topic does not list it;
// applied after the creation (a slow read racing the create), it must not
// delete the new topic and what was written to it. A snapshot read after
// the creation still deletes a topic that is gone from it.
func TestApplyKeepsTopicsCreatedAfterTheRead(t *testing.T) {
	m, store := openManager(t)
	before := storeTopics(t, store) // no topic "a"
	token := m.ChangeToken()

	if _, err := m.CreateTopic(t.Context(), "a", 1, nil, false); err != nil {
		t.Fatal(err)
	}
	p := m.Partition("a", 0)
	if _, err := p.Append(batch.Build([]batch.Record{{Value: []byte("v")}}, batch.BuildOptions{}), false); err != nil {
		t.Fatal(err)
	}

	m.Apply(t.Context(), before, token)
	if m.Topic("a") == nil || m.Partition("a", 0) != p || p.Log().LogEndOffset() != 1 {
		t.Fatalf("a stale snapshot deleted or replaced topic a (topic %v)", m.Topic("a"))
	}

	// A later snapshot without the topic (deleted elsewhere) deletes it.
	m.Apply(t.Context(), before, m.ChangeToken())
	if m.Topic("a") != nil {
		t.Fatal("topic a survived a snapshot read after its deletion elsewhere")
	}
}

// The same for a local deletion: a snapshot read before it still lists the
// topic, and must not bring it back.
func TestApplyKeepsTopicsDeletedAfterTheRead(t *testing.T) {
	m, store := openManager(t)
	if _, err := m.CreateTopic(t.Context(), "b", 1, nil, false); err != nil {
		t.Fatal(err)
	}
	withB := storeTopics(t, store)
	token := m.ChangeToken()
	if err := m.DeleteTopic(t.Context(), "b"); err != nil {
		t.Fatal(err)
	}
	m.Apply(t.Context(), withB, token)
	if m.Topic("b") != nil {
		t.Fatal("a stale snapshot re-opened topic b after it was deleted here")
	}
}

// And for a config altered here: the stale snapshot's configs do not
// undo it.
func TestApplyKeepsConfigsAlteredAfterTheRead(t *testing.T) {
	m, store := openManager(t)
	if _, err := m.CreateTopic(t.Context(), "c", 1, nil, false); err != nil {
		t.Fatal(err)
	}
	old := storeTopics(t, store)
	token := m.ChangeToken()
	if err := m.AlterConfigs(t.Context(), "c", false, func(o map[string]string) error {
		o["retention.ms"] = "1000"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	m.Apply(t.Context(), old, token)
	if got := m.Topic("c").Overrides["retention.ms"]; got != "1000" {
		t.Fatalf("retention.ms = %q after a stale snapshot, want 1000", got)
	}
}
