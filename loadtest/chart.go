package loadtest

import (
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// Chart geometry, in SVG user units.
const (
	chartW     = 900
	panelH     = 260
	marginL    = 80
	marginR    = 150
	marginTop  = 50
	panelGap   = 60
	plotW      = chartW - marginL - marginR
	chartTotal = marginTop + 2*panelH + panelGap + 40
)

// series is one line of a panel.
type series struct {
	name   string
	colour string
	ys     []float64 // NaN: no value at that point
}

// WriteSVGFile writes the report's chart to path.
func WriteSVGFile(path string, r *Report) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write chart: %w", err)
	}
	werr := WriteSVG(f, r)
	if cerr := f.Close(); werr == nil && cerr != nil {
		werr = fmt.Errorf("write chart: %w", cerr)
	}
	return werr
}

// WriteSVG draws throughput (records/s) over time in the upper panel and
// latency percentiles (p50, p99, p99.9; log scale) in the lower one, from
// the report's series. It needs no external tools: any browser opens it.
func WriteSVG(w io.Writer, r *Report) error {
	ts := make([]float64, len(r.Series))
	var prodRate, consRate, p50, p99, p999 []float64
	latOf := func(pt Point) IntervalStats {
		if r.Workload == WorkloadE2E {
			return pt.Consume
		}
		return pt.Produce
	}
	for i, pt := range r.Series {
		ts[i] = pt.T
		prodRate = append(prodRate, float64(pt.Produce.Records)/pt.Seconds)
		consRate = append(consRate, float64(pt.Consume.Records)/pt.Seconds)
		l := latOf(pt).Latency
		if l.Count == 0 {
			p50, p99, p999 = append(p50, math.NaN()), append(p99, math.NaN()), append(p999, math.NaN())
			continue
		}
		p50, p99, p999 = append(p50, l.P50), append(p99, l.P99), append(p999, l.P999)
	}
	var rates []series
	if r.Workload != WorkloadConsume {
		rates = append(rates, series{"produce rec/s", "#1f77b4", prodRate})
	}
	if r.Workload != WorkloadProduce {
		rates = append(rates, series{"consume rec/s", "#2ca02c", consRate})
	}
	latName := "produce latency"
	if r.Workload == WorkloadE2E {
		latName = "end-to-end latency"
	}

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", chartW, chartTotal, chartW, chartTotal)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	title := r.Workload
	if r.Label != "" {
		title = r.Label + " · " + title
	}
	s := r.Settings
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", marginL, esc(title))
	fmt.Fprintf(&b, `<text x="%d" y="38" fill="#555">%s</text>`+"\n", marginL,
		esc(fmt.Sprintf("%d partitions, RF %d, %s B records, acks=%s, rate %s, started %s",
			s.Partitions, s.ReplicationFactor, s.RecordSize, s.Acks, rateString(s.Rate), r.Started.Format("2006-01-02 15:04:05 MST"))))
	drawPanel(&b, marginTop, "throughput (records/s)", ts, rates, false)
	if r.Workload != WorkloadConsume {
		drawPanel(&b, marginTop+panelH+panelGap, latName+" (ms, log scale)", ts, []series{
			{"p50", "#2ca02c", p50}, {"p99", "#ff7f0e", p99}, {"p99.9", "#d62728", p999},
		}, true)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#555">seconds since the measured period began</text>`+"\n", marginL+plotW/2-120, chartTotal-8)
	b.WriteString("</svg>\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write chart: %w", err)
	}
	return nil
}

func esc(s string) string { return html.EscapeString(s) }

// drawPanel draws one panel with its axes, grid and legend at y offset top.
func drawPanel(b *strings.Builder, top int, label string, ts []float64, lines []series, logY bool) {
	tMax := 1.0
	for _, t := range ts {
		tMax = max(tMax, t)
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, l := range lines {
		for _, y := range l.ys {
			if !math.IsNaN(y) && !math.IsInf(y, 0) && (!logY || y > 0) {
				lo, hi = min(lo, y), max(hi, y)
			}
		}
	}
	if math.IsInf(lo, 1) {
		lo, hi = 0, 1
	}
	if logY {
		lo = math.Pow(10, math.Floor(math.Log10(lo)))
		hi = math.Pow(10, math.Ceil(math.Log10(hi)))
		if hi <= lo {
			hi = lo * 10
		}
	} else {
		lo = 0
		hi = niceCeil(hi)
	}
	x := func(t float64) float64 { return marginL + t/tMax*plotW }
	y := func(v float64) float64 {
		var f float64
		if logY {
			f = (math.Log10(v) - math.Log10(lo)) / (math.Log10(hi) - math.Log10(lo))
		} else {
			f = (v - lo) / (hi - lo)
		}
		return float64(top+panelH) - f*panelH
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", marginL, top-6, esc(label))
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>`+"\n", marginL, top, plotW, panelH)
	// Horizontal grid: decades on a log axis, fifths on a linear one.
	var ticks []float64
	if logY {
		for v := lo; v <= hi*1.0001; v *= 10 {
			ticks = append(ticks, v)
		}
	} else {
		for i := 0; i <= 5; i++ {
			ticks = append(ticks, lo+(hi-lo)*float64(i)/5)
		}
	}
	for _, v := range ticks {
		yy := y(v)
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>`+"\n", marginL, yy, marginL+plotW, yy)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", marginL-6, yy+4, axisLabel(v))
	}
	for i := 0; i <= 5; i++ {
		t := tMax * float64(i) / 5
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x(t), top+panelH+16, strconv.FormatFloat(t, 'f', timeDecimals(tMax), 64))
	}
	for li, l := range lines {
		var pts []string
		for i, v := range l.ys {
			if math.IsNaN(v) || (logY && v <= 0) || i >= len(ts) {
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(ts[i]), y(v)))
		}
		if len(pts) > 0 {
			fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", l.colour, strings.Join(pts, " "))
		}
		ly := top + 16 + li*18
		fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>`+"\n", marginL+plotW+10, ly-4, marginL+plotW+30, ly-4, l.colour)
		fmt.Fprintf(b, `<text x="%d" y="%d">%s</text>`+"\n", marginL+plotW+36, ly, esc(l.name))
	}
}

// timeDecimals is how many decimals the time axis needs so that its six
// labels differ.
func timeDecimals(tMax float64) int {
	if tMax < 10 {
		return 1
	}
	return 0
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func axisLabel(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%gk", v/1e3)
	}
	return fmt.Sprintf("%g", v)
}
