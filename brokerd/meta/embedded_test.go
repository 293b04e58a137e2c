package meta

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestEmbeddedPersistsAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	e, err := OpenEmbedded(dir)
	if err != nil {
		t.Fatal(err)
	}
	id := NewTopicID()
	if err := e.CreateTopic(ctx, Topic{Name: "a", ID: id, Partitions: 2, Configs: map[string]string{"retention.ms": "1"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.CreateTopic(ctx, Topic{Name: "a", ID: NewTopicID(), Partitions: 1}); !errors.Is(err, ErrTopicExists) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := e.UpdateTopic(ctx, "a", func(t *Topic) error { t.Partitions = 5; return nil }); err != nil {
		t.Fatal(err)
	}
	first, err := e.AllocateProducerIDs(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	e2, err := OpenEmbedded(dir)
	if err != nil {
		t.Fatal(err)
	}
	ts, _ := e2.Topics(ctx)
	if len(ts) != 1 || ts[0].ID != id || ts[0].Partitions != 5 || ts[0].Configs["retention.ms"] != "1" {
		t.Fatalf("after reopen: %+v", ts)
	}
	next, _ := e2.AllocateProducerIDs(ctx, 1)
	if next < first+10 {
		t.Fatalf("producer id %d reused (first block started at %d)", next, first)
	}
	if err := e2.DeleteTopic(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := e2.DeleteTopic(ctx, "a"); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("second delete: %v", err)
	}
}

func TestEmbeddedFailedUpdateChangesNothing(t *testing.T) {
	e, _ := OpenEmbedded(t.TempDir())
	ctx := context.Background()
	e.CreateTopic(ctx, Topic{Name: "a", ID: NewTopicID(), Partitions: 1})
	boom := errors.New("boom")
	if _, err := e.UpdateTopic(ctx, "a", func(t *Topic) error { t.Partitions = 9; return boom }); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if _, err := e.UpdateTopic(ctx, "a", func(t *Topic) error { t.Name = "b"; return nil }); err == nil {
		t.Fatal("rename accepted")
	}
	ts, _ := e.Topics(ctx)
	if ts[0].Partitions != 1 || ts[0].Name != "a" {
		t.Fatalf("%+v", ts)
	}
}

func TestEmbeddedDamagedFileIsAClearError(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, embeddedFile), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := OpenEmbedded(dir)
	if err == nil {
		t.Fatal("damaged metadata accepted")
	}
}
