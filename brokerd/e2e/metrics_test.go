package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMetrics checks the Prometheus endpoint of a real process after real
// traffic: request counters by API and the per-partition log end offset.
func TestMetrics(t *testing.T) {
	const (
		topic = "metered"
		n     = 137
	)
	b := StartBroker(t, Options{Metrics: true})
	createTopic(t, b.Addr, topic, 1)
	values := make([]string, n)
	for i := range values {
		values[i] = fmt.Sprintf("m%d", i)
	}
	produceSync(t, newClient(t, b.Addr), topic, values)
	if got := len(readAll(t, b.Addr, topic, 30*time.Second)[0]); got != n {
		t.Fatalf("read back %d records, want %d", got, n)
	}

	m := scrape(t, "http://"+b.MetricsAddr+"/metrics")
	for _, api := range []string{"Produce", "Fetch", "Metadata"} {
		series := `kafki_requests_total{api="` + api + `"}`
		v, ok := m[series]
		if !ok {
			t.Errorf("/metrics has no %s", series)
		} else if v <= 0 {
			t.Errorf("%s = %v, want > 0", series, v)
		}
	}
	leo := `kafki_partition_log_end_offset{partition="0",topic="` + topic + `"}`
	if v, ok := m[leo]; !ok {
		t.Errorf("/metrics has no %s", leo)
	} else if v != n {
		t.Errorf("%s = %v, want %d (records produced)", leo, v, n)
	}
	if t.Failed() {
		t.Logf("kafki_ series scraped:\n%s", kafkiSeries(m))
	}
}

// scrape GETs a Prometheus text endpoint and returns its samples by series
// (name plus labels exactly as exposed).
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	hc := &http.Client{Timeout: 10 * time.Second}
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("GET %s: Content-Type %q, want Prometheus text format", url, ct)
	}
	m := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Errorf("GET %s: malformed line %q", url, line)
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Errorf("GET %s: line %q: %v", url, line, err)
			continue
		}
		m[line[:i]] = v
	}
	return m
}

func kafkiSeries(m map[string]float64) string {
	var sb strings.Builder
	for k, v := range m {
		if strings.HasPrefix(k, "kafki_") && !strings.Contains(k, "_bucket{") {
			fmt.Fprintf(&sb, "  %s %v\n", k, v)
		}
	}
	return sb.String()
}
