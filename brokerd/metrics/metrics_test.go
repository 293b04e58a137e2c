package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestTopicCountersAreCachedAndDropped(t *testing.T) {
	m := New()
	m.Produced("a", 3, 300)
	m.Produced("a", 2, 200)
	m.Fetched("a", 50)
	if got := testutil.ToFloat64(m.topicRecs.WithLabelValues("a")); got != 5 {
		t.Fatalf("records %v, want 5", got)
	}
	if got := testutil.ToFloat64(m.topicIn.WithLabelValues("a")); got != 500 {
		t.Fatalf("bytes %v, want 500", got)
	}
	m.DeleteTopic("a")
	if n := testutil.CollectAndCount(m.topicIn); n != 0 {
		t.Fatalf("%d series after delete", n)
	}
	// A topic re-created under the same name starts from zero, on fresh
	// children (the cache was dropped with the series).
	m.Produced("a", 1, 10)
	if got := testutil.ToFloat64(m.topicRecs.WithLabelValues("a")); got != 1 {
		t.Fatalf("records after re-create %v, want 1", got)
	}
}
