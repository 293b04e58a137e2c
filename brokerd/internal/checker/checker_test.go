package checker

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

const topic = "t"

// writeAll sends, acknowledges and returns n values at offsets 0..n-1 of
// partition p.
func writeAll(c *Checker, p int32, n int) []Observed {
	recs := make([]Observed, n)
	for i := range n {
		v := fmt.Sprintf("p%d-v%d", p, i)
		c.Sent(topic, p, v)
		c.Acked(topic, p, v, int64(i))
		recs[i] = Observed{int64(i), v}
	}
	return recs
}

func pollAll(c *Checker, reader string, p int32, recs []Observed) {
	for _, r := range recs {
		c.Polled(reader, topic, p, r.Offset, r.Value)
	}
}

// expectOnly fails unless the report has exactly want anomalies of kind k
// and none of any other kind.
func expectOnly(t *testing.T, r Report, k Kind, want int) {
	t.Helper()
	if got := r.Count(k); got != want {
		t.Errorf("%s anomalies: got %d, want %d\n%s", k, got, want, r)
	}
	if other := len(r.Anomalies) - r.Count(k); other != 0 {
		t.Errorf("got %d anomalies of other kinds than %s\n%s", other, k, r)
	}
}

func expectOK(t *testing.T, r Report) {
	t.Helper()
	if !r.OK() {
		t.Fatalf("want OK, got\n%s", r)
	}
}

func TestCleanHistory(t *testing.T) {
	c := New()
	a := writeAll(c, 0, 5)
	b := writeAll(c, 1, 3)
	pollAll(c, "r1", 0, a)
	pollAll(c, "r1", 1, b)
	// A second reader rereads partition 0 after a seek.
	pollAll(c, "r2", 0, a[:3])
	c.Seeked("r2", topic, 0, 1)
	pollAll(c, "r2", 0, a[1:])
	for _, rep := range []string{"b1", "b2"} {
		c.FinalRead(rep, topic, 0, a)
		c.FinalRead(rep, topic, 1, b)
	}
	r := c.Check()
	expectOK(t, r)
	if r.Acked != 8 || r.Sent != 8 || r.Polled != 5+3+3+4 || r.FinalRecords != 16 {
		t.Errorf("counters: %+v", r)
	}
	if !strings.HasPrefix(r.String(), "OK;") {
		t.Errorf("String() = %q", r.String())
	}
}

func TestGapIsInfoNotAnomaly(t *testing.T) {
	c := New()
	c.Sent(topic, 0, "a")
	c.Acked(topic, 0, "a", 0)
	c.Sent(topic, 0, "b")
	c.Acked(topic, 0, "b", 5)
	c.Polled("r", topic, 0, 0, "a")
	c.Polled("r", topic, 0, 5, "b")
	c.FinalRead("cluster", topic, 0, []Observed{{0, "a"}, {5, "b"}})
	r := c.Check()
	expectOK(t, r)
	// One gap for the reader, one for the final read.
	if got := r.Count(Gap); got != 2 {
		t.Fatalf("gaps: got %d, want 2\n%v", got, r.Info)
	}
	if g := r.Of(Gap)[0]; g.Offset != 1 || !strings.Contains(g.Detail, "1..4") {
		t.Errorf("gap: %+v", g)
	}
}

func TestLostWrite(t *testing.T) {
	for _, present := range []bool{false, true} {
		t.Run(fmt.Sprintf("present=%v", present), func(t *testing.T) {
			c := New()
			recs := writeAll(c, 0, 3)
			c.FinalRead("b1", topic, 0, recs)
			if present {
				c.FinalRead("b2", topic, 0, recs)
			} else {
				// b2 lost the last acknowledged record.
				c.FinalRead("b2", topic, 0, recs[:2])
			}
			r := c.Check()
			if present {
				expectOK(t, r)
				return
			}
			expectOnly(t, r, LostWrite, 1)
			a := r.Of(LostWrite)[0]
			if a.Value != "p0-v2" || a.Offset != 2 || !strings.Contains(a.Detail, "b2") || strings.Contains(a.Detail, "b1,") {
				t.Errorf("lost write: %+v", a)
			}
		})
	}
}

func TestDuplicate(t *testing.T) {
	for _, bug := range []bool{false, true} {
		t.Run(fmt.Sprintf("bug=%v", bug), func(t *testing.T) {
			c := New()
			// Indeterminate, so only the duplicate can be reported.
			c.Sent(topic, 0, "x")
			c.Failed("x", false)
			final := []Observed{{0, "x"}}
			if bug {
				// A retried produce written twice.
				final = append(final, Observed{1, "x"})
			}
			c.FinalRead("cluster", topic, 0, final)
			r := c.Check()
			if !bug {
				expectOK(t, r)
				return
			}
			expectOnly(t, r, Duplicate, 1)
			if a := r.Of(Duplicate)[0]; a.Value != "x" || !strings.Contains(a.Detail, "t/0@0") || !strings.Contains(a.Detail, "t/0@1") {
				t.Errorf("duplicate: %+v", a)
			}
		})
	}
}

func TestInconsistentOffsetBetweenReaders(t *testing.T) {
	for _, bug := range []bool{false, true} {
		t.Run(fmt.Sprintf("bug=%v", bug), func(t *testing.T) {
			c := New()
			for _, v := range []string{"a", "b"} {
				c.Sent(topic, 0, v)
				c.Failed(v, false)
			}
			c.Polled("r1", topic, 0, 7, "a")
			if bug {
				c.Polled("r2", topic, 0, 7, "b")
			} else {
				c.Polled("r2", topic, 0, 7, "a")
			}
			c.FinalRead("cluster", topic, 0, []Observed{{7, "a"}})
			r := c.Check()
			if !bug {
				expectOK(t, r)
				return
			}
			// r2's "b" is also retracted and, absent from any offset but 7,
			// not a duplicate.
			if r.Count(InconsistentOffset) != 1 || r.Count(RetractedRead) != 1 || len(r.Anomalies) != 2 {
				t.Fatalf("want 1 inconsistent offset and 1 retracted read:\n%s", r)
			}
			a := r.Of(InconsistentOffset)[0]
			if a.Offset != 7 || !strings.Contains(a.Detail, `"a" by final:cluster,r1;`) || !strings.Contains(a.Detail, `"b" by r2`) {
				t.Errorf("inconsistent offset: %+v", a)
			}
		})
	}
}

func TestInconsistentOffsetBetweenReplicas(t *testing.T) {
	c := New()
	for _, v := range []string{"a", "b"} {
		c.Sent(topic, 0, v)
		c.Failed(v, false)
	}
	c.FinalRead("b1", topic, 0, []Observed{{0, "a"}})
	c.FinalRead("b2", topic, 0, []Observed{{0, "b"}})
	r := c.Check()
	expectOnly(t, r, InconsistentOffset, 1)
	if d := r.Of(InconsistentOffset)[0].Detail; !strings.Contains(d, "final:b1") || !strings.Contains(d, "final:b2") {
		t.Errorf("detail %q", d)
	}
}

func TestAckedValueAtOtherOffset(t *testing.T) {
	for _, bug := range []bool{false, true} {
		t.Run(fmt.Sprintf("bug=%v", bug), func(t *testing.T) {
			c := New()
			c.Sent(topic, 0, "a")
			c.Acked(topic, 0, "a", 3)
			off := int64(3)
			if bug {
				off = 4 // the broker acknowledged an offset it did not use
			}
			c.Polled("r", topic, 0, off, "a")
			c.FinalRead("cluster", topic, 0, []Observed{{off, "a"}})
			r := c.Check()
			if !bug {
				expectOK(t, r)
				return
			}
			expectOnly(t, r, InconsistentOffset, 1)
			if d := r.Of(InconsistentOffset)[0].Detail; !strings.Contains(d, "acknowledged at t/0@3, seen at t/0@4") {
				t.Errorf("detail %q", d)
			}
		})
	}
}

func TestNonMonotonic(t *testing.T) {
	for _, seek := range []bool{false, true} {
		t.Run(fmt.Sprintf("seek=%v", seek), func(t *testing.T) {
			c := New()
			recs := writeAll(c, 0, 3)
			pollAll(c, "r", 0, recs)
			if seek {
				c.Seeked("r", topic, 0, 1)
			}
			c.Polled("r", topic, 0, 1, recs[1].Value)
			c.FinalRead("cluster", topic, 0, recs)
			r := c.Check()
			if seek {
				expectOK(t, r)
				return
			}
			expectOnly(t, r, NonMonotonic, 1)
			a := r.Of(NonMonotonic)[0]
			if a.Offset != 1 || len(a.Readers) != 1 || a.Readers[0] != "r" || !strings.Contains(a.Detail, "after offset 2") {
				t.Errorf("non-monotonic: %+v", a)
			}
		})
	}
}

func TestNonMonotonicBelowSeekTarget(t *testing.T) {
	c := New()
	recs := writeAll(c, 0, 3)
	c.Seeked("r", topic, 0, 2)
	c.Polled("r", topic, 0, 1, recs[1].Value)
	c.FinalRead("cluster", topic, 0, recs)
	expectOnly(t, c.Check(), NonMonotonic, 1)

	// An unknown seek target (reset to earliest) accepts anything.
	c = New()
	recs = writeAll(c, 0, 3)
	pollAll(c, "r", 0, recs)
	c.Seeked("r", topic, 0, -1)
	c.Polled("r", topic, 0, 0, recs[0].Value)
	c.FinalRead("cluster", topic, 0, recs)
	expectOK(t, c.Check())
}

func TestRetractedRead(t *testing.T) {
	cases := []struct {
		name  string
		final []Observed
		want  string // in the detail; "" for no anomaly
	}{
		{"kept", []Observed{{0, "a"}, {1, "x"}, {2, "b"}}, ""},
		{"overwritten", []Observed{{0, "a"}, {1, "y"}, {2, "b"}}, `holds "y"`},
		{"hole below end", []Observed{{0, "a"}, {2, "b"}}, "no record there, below its end offset 3"},
		{"truncated", []Observed{{0, "a"}}, "lacks the value (end offset 1)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := New()
			c.Sent(topic, 0, "a")
			c.Acked(topic, 0, "a", 0)
			// x's send timed out, yet a consumer saw it: it must stay. b and
			// y timed out too, and may or may not be written.
			for _, v := range []string{"b", "x", "y"} {
				c.Sent(topic, 0, v)
				c.Failed(v, false)
			}
			c.Polled("r", topic, 0, 1, "x")
			c.FinalRead("cluster", topic, 0, tc.final)
			r := c.Check()
			if tc.want == "" {
				expectOK(t, r)
				return
			}
			if r.Count(RetractedRead) != 1 {
				t.Fatalf("want 1 retracted read:\n%s", r)
			}
			a := r.Of(RetractedRead)[0]
			if a.Value != "x" || a.Offset != 1 || !strings.Contains(a.Detail, tc.want) || a.Readers[0] != "r" {
				t.Errorf("retracted read: %+v", a)
			}
			// Only the overwrite is also an inconsistent offset.
			if extra := len(r.Anomalies) - 1 - r.Count(InconsistentOffset); extra != 0 {
				t.Errorf("unexpected anomalies:\n%s", r)
			}
		})
	}
}

func TestUnexpectedValue(t *testing.T) {
	cases := []struct {
		name   string
		setup  func(c *Checker)
		detail string
	}{
		{"sent", func(c *Checker) { c.Sent(topic, 0, "v"); c.Failed("v", false) }, ""},
		{"never sent", func(c *Checker) {}, "never sent"},
		{"definitely failed", func(c *Checker) { c.Sent(topic, 0, "v"); c.Failed("v", true) }, "definitely failed"},
		{"other partition", func(c *Checker) { c.Sent(topic, 1, "v"); c.Failed("v", false) }, "sent to t/1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := New()
			tc.setup(c)
			c.Polled("r", topic, 0, 0, "v")
			c.FinalRead("cluster", topic, 0, []Observed{{0, "v"}})
			r := c.Check()
			if tc.detail == "" {
				expectOK(t, r)
				return
			}
			expectOnly(t, r, UnexpectedValue, 1)
			if a := r.Of(UnexpectedValue)[0]; !strings.Contains(a.Detail, tc.detail) || a.Value != "v" {
				t.Errorf("unexpected value: %+v", a)
			}
		})
	}
}

func TestIndeterminateNeverAnomalous(t *testing.T) {
	c := New()
	recs := writeAll(c, 0, 2)
	// Three indeterminate sends: one written and polled, one written but
	// never polled, one never written. A fourth is never resolved at all.
	for _, v := range []string{"i1", "i2", "i3", "i4"} {
		c.Sent(topic, 0, v)
	}
	c.Failed("i1", false)
	c.Failed("i2", false)
	c.Failed("i3", false)
	final := append(recs, Observed{2, "i1"}, Observed{3, "i2"})
	pollAll(c, "r", 0, final[:3])
	c.FinalRead("cluster", topic, 0, final)
	r := c.Check()
	expectOK(t, r)
	if r.Indeterminate != 4 || r.IndeterminateSeen != 2 {
		t.Errorf("indeterminate %d seen %d, want 4 and 2", r.Indeterminate, r.IndeterminateSeen)
	}
}

func TestReplicaDivergence(t *testing.T) {
	c := New()
	recs := writeAll(c, 0, 2)
	c.Sent(topic, 0, "i")
	c.Failed("i", false)
	c.FinalRead("b1", topic, 0, append(recs, Observed{2, "i"}))
	c.FinalRead("b2", topic, 0, recs)
	r := c.Check()
	expectOnly(t, r, ReplicaDivergence, 1)
	if a := r.Of(ReplicaDivergence)[0]; a.Value != "i" || !strings.Contains(a.Detail, "missing from b2") {
		t.Errorf("divergence: %+v", a)
	}
}

func TestMissingFinalRead(t *testing.T) {
	c := New()
	writeAll(c, 0, 1)
	recs := writeAll(c, 1, 1)
	c.FinalRead("cluster", topic, 1, recs)
	r := c.Check()
	expectOnly(t, r, MissingFinalRead, 1)
	if a := r.Of(MissingFinalRead)[0]; a.Partition != 0 {
		t.Errorf("missing final read: %+v", a)
	}
}

func TestInvalidHistory(t *testing.T) {
	c := New()
	c.Sent(topic, 0, "v")
	c.Sent(topic, 0, "v")
	c.Sent(topic, 0, "w")
	c.Failed("w", true)
	c.Acked(topic, 0, "w", 0)
	c.FinalRead("cluster", topic, 0, []Observed{{0, "w"}})
	r := c.Check()
	expectOnly(t, r, InvalidHistory, 2)
}

func TestStringListsFirstAnomaliesPerKind(t *testing.T) {
	c := New()
	for i := range 15 {
		v := fmt.Sprintf("v%d", i)
		c.Sent(topic, 0, v)
		c.Acked(topic, 0, v, int64(i))
	}
	c.FinalRead("cluster", topic, 0, nil)
	s := c.Check().String()
	if !strings.HasPrefix(s, "FAILED: 15 anomalies") || !strings.Contains(s, "lost-write: 15") ||
		!strings.Contains(s, "... and 5 more") || strings.Count(s, "\n  lost-write") != 10 {
		t.Errorf("String():\n%s", s)
	}
}

// TestConcurrent drives the checker from concurrent writers and readers, as
// a chaos test does; run it with -race.
func TestConcurrent(t *testing.T) {
	const partitions, perWriter, readers = 4, 200, 3
	c := New()
	var mu sync.Mutex
	logs := make([][]Observed, partitions)
	var wg sync.WaitGroup
	for p := range int32(partitions) {
		wg.Go(func() {
			for i := range perWriter {
				v := fmt.Sprintf("p%d-%d", p, i)
				c.Sent(topic, p, v)
				mu.Lock()
				off := int64(len(logs[p]))
				logs[p] = append(logs[p], Observed{off, v})
				mu.Unlock()
				c.Acked(topic, p, v, off)
			}
		})
	}
	wg.Wait()
	for r := range readers {
		wg.Go(func() {
			name := fmt.Sprintf("r%d", r)
			for p := range int32(partitions) {
				pollAll(c, name, p, logs[p])
				// Concurrent Check calls are safe too.
				_ = c.Check()
			}
		})
	}
	wg.Wait()
	for p := range int32(partitions) {
		c.FinalRead("cluster", topic, p, logs[p])
	}
	r := c.Check()
	expectOK(t, r)
	if r.Acked != partitions*perWriter || r.Polled != readers*partitions*perWriter {
		t.Errorf("counters: %+v", r)
	}
}

// feed records n acknowledged writes over 8 partitions, two readers polling
// all of them and a final read: about 4n events.
func feed(c *Checker, n int) {
	const partitions = 8
	logs := make([][]Observed, partitions)
	for i := range n {
		p := int32(i % partitions)
		v := fmt.Sprintf("v%d", i)
		off := int64(len(logs[p]))
		c.Sent(topic, p, v)
		c.Acked(topic, p, v, off)
		logs[p] = append(logs[p], Observed{off, v})
	}
	for _, rd := range []string{"r1", "r2"} {
		for p := range int32(partitions) {
			pollAll(c, rd, p, logs[p])
		}
	}
	for p := range int32(partitions) {
		c.FinalRead("cluster", topic, p, logs[p])
	}
}

// TestLargeHistoryIsFast guards against accidental quadratic checks: 100k
// events must take seconds at most, even under -race.
func TestLargeHistoryIsFast(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	start := time.Now()
	c := New()
	feed(c, 25_000)
	r := c.Check()
	took := time.Since(start)
	expectOK(t, r)
	t.Logf("100k events fed and checked in %v", took)
	if took > 30*time.Second {
		t.Errorf("took %v for 100k events", took)
	}
}

func BenchmarkCheck100k(b *testing.B) {
	c := New()
	feed(c, 25_000)
	b.ResetTimer()
	for b.Loop() {
		if r := c.Check(); !r.OK() {
			b.Fatal(r)
		}
	}
}
