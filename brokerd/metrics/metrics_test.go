package metrics

import (
	"strings"
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

// The cluster gauges are read from the stat function at every scrape,
// and the membership counters exist at 0 before any event (an alarm on
// them has data from the start), the lease failures by lease.
func TestClusterMetrics(t *testing.T) {
	m := New()
	stat := ClusterStat{UnderReplicated: 2, UnderMinISR: 1}
	m.RegisterCluster(func() ClusterStat { return stat })
	want := `
# HELP kafki_lease_renewal_failures_total Lease renewals that did not extend the lease (DynamoDB throttled, unreachable or an unknown outcome, or the lease found lost), by lease: session (this broker's) or controller (while this broker is the controller). A broker whose session renewals fail for a lease duration stops acknowledging and is fenced.
# TYPE kafki_lease_renewal_failures_total counter
kafki_lease_renewal_failures_total{lease="controller"} 0
kafki_lease_renewal_failures_total{lease="session"} 1
`
	m.SessionRenewalFailures.Inc()
	if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(want), "kafki_lease_renewal_failures_total"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		want float64
	}{
		{"kafki_under_replicated_partitions", 2}, {"kafki_under_min_isr_partitions", 1},
		{"kafki_active_controller", 0}, {"kafki_offline_partitions", 0},
		{"kafki_isr_shrinks_total", 0}, {"kafki_isr_expands_total", 0}, {"kafki_broker_fenced_total", 0},
	} {
		if got := gathered(t, m, c.name); got != c.want {
			t.Errorf("%s %v, want %v", c.name, got, c.want)
		}
	}
	stat = ClusterStat{ActiveController: true, Offline: 3}
	if got := gathered(t, m, "kafki_active_controller"); got != 1 {
		t.Errorf("kafki_active_controller %v after the stat changed, want 1", got)
	}
	if got := gathered(t, m, "kafki_offline_partitions"); got != 3 {
		t.Errorf("kafki_offline_partitions %v after the stat changed, want 3", got)
	}
}

// gathered is the value of a metric with one series in m's registry (-1:
// none).
func gathered(t *testing.T, m *Metrics, name string) float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			s := mf.GetMetric()[0]
			return s.GetGauge().GetValue() + s.GetCounter().GetValue()
		}
	}
	return -1
}
