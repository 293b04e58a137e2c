package loadtest

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

func TestWriteSVGIsWellFormedWithSeries(t *testing.T) {
	rep := &Report{Workload: WorkloadE2E, Label: "kafki <single>", Settings: settingsOf(DefaultConfig())}
	for i := 1; i <= 5; i++ {
		p := IntervalStats{Records: int64(1000 * i), Latency: Percentiles{Count: 10, P50: 1, P99: float64(i), P999: float64(2 * i)}}
		rep.Series = append(rep.Series, Point{T: float64(i), Seconds: 1, Produce: p, Consume: p})
	}
	rep.Series[2].Consume.Latency = Percentiles{} // an interval with no records: a gap, not a zero
	var buf bytes.Buffer
	if err := WriteSVG(&buf, rep); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(buf.Bytes()))
	polylines := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, buf.String())
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			polylines++
			for _, a := range se.Attr {
				if a.Name.Local == "points" && strings.Contains(a.Value, "NaN") {
					t.Fatalf("NaN in points: %s", a.Value)
				}
			}
		}
	}
	// produce and consume throughput, p50, p99, p99.9.
	if polylines != 5 {
		t.Fatalf("%d lines drawn, want 5", polylines)
	}
	if !strings.Contains(buf.String(), "end-to-end latency") {
		t.Fatal("e2e chart does not say its latency is end to end")
	}
}
