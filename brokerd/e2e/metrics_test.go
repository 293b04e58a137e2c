package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// TestMetrics checks the Prometheus endpoint of a real process after real
// traffic: request counters by API and by error code, latency histograms,
// network bytes, and the per-partition log state (offsets, size,
// segments).
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

	// An error to count: creating the topic again is TOPIC_ALREADY_EXISTS.
	adm := kadm.NewClient(newClient(t, b.Addr))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := adm.CreateTopic(ctx, 1, 1, nil, topic)
	if err == nil {
		err = res.Err
	}
	if !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Fatalf("create %q again: %v, want TOPIC_ALREADY_EXISTS", topic, err)
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
	// Errors by API and code.
	errSeries := fmt.Sprintf(`kafki_request_errors_total{api="CreateTopics",error_code="%d"}`, kerr.TopicAlreadyExists.Code)
	if v := m[errSeries]; v != 1 {
		t.Errorf("%s = %v, want 1 (one duplicate CreateTopics)", errSeries, v)
	}
	// No error was counted for the successful produces.
	for k, v := range m {
		if strings.HasPrefix(k, `kafki_request_errors_total{api="Produce"`) && v != 0 {
			t.Errorf("%s = %v, want none: every produce succeeded", k, v)
		}
	}
	// Latency histograms by API: a +Inf bucket that counts every request
	// of the API, and a finite bucket that holds some of them.
	for _, api := range []string{"Produce", "Fetch"} {
		inf := `kafki_request_duration_seconds_bucket{api="` + api + `",le="+Inf"}`
		count := `kafki_request_duration_seconds_count{api="` + api + `"}`
		if m[inf] <= 0 || m[inf] != m[count] {
			t.Errorf("%s = %v, %s = %v: want equal and > 0", inf, m[inf], count, m[count])
		}
		if m[count] < m[`kafki_requests_total{api="`+api+`"}`]-1 {
			// The scrape may race the response write of the last request.
			t.Errorf("%s = %v, but %v requests", count, m[count], m[`kafki_requests_total{api="`+api+`"}`])
		}
		finite := false
		for k, v := range m {
			if strings.HasPrefix(k, `kafki_request_duration_seconds_bucket{api="`+api+`",le="`) && !strings.Contains(k, "+Inf") && v > 0 {
				finite = true
			}
		}
		if !finite {
			t.Errorf("no finite kafki_request_duration_seconds bucket of %s holds a request", api)
		}
	}
	// Network bytes: at least the record values went in and came back out.
	payload := 0
	for _, v := range values {
		payload += len(v)
	}
	for _, series := range []string{"kafki_network_received_bytes_total", "kafki_network_sent_bytes_total"} {
		if v := m[series]; v < float64(payload) {
			t.Errorf("%s = %v, want >= %d (the values produced and read back)", series, v, payload)
		}
	}
	// Per-partition state of the log.
	labels := `{partition="0",topic="` + topic + `"}`
	for series, check := range map[string]func(float64) bool{
		"kafki_partition_log_start_offset": func(v float64) bool { return v == 0 },
		"kafki_partition_high_watermark":   func(v float64) bool { return v == n },
		"kafki_partition_size_bytes":       func(v float64) bool { return v >= float64(payload) },
		"kafki_partition_segments":         func(v float64) bool { return v >= 1 },
	} {
		if v, ok := m[series+labels]; !ok {
			t.Errorf("/metrics has no %s%s", series, labels)
		} else if !check(v) {
			t.Errorf("%s%s = %v: implausible after %d records of %d value bytes", series, labels, v, n, payload)
		}
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
