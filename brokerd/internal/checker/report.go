package checker

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Kind is a kind of anomaly.
type Kind int

const (
	// LostWrite: an acknowledged value is absent from the final read of a
	// replica of its partition.
	LostWrite Kind = iota + 1
	// Duplicate: one value was seen at two different offsets (or
	// partitions), by any readers or final reads.
	Duplicate
	// InconsistentOffset: two values were seen (or acknowledged) at the same
	// offset, or an acknowledged value was seen at another offset than the
	// one it was acknowledged with.
	InconsistentOffset
	// NonMonotonic: a reader saw an offset not above the previous one in a
	// partition without seeking in between.
	NonMonotonic
	// RetractedRead: a polled record is not in the final read: the final
	// read holds another value at its offset, has nothing at its offset
	// although it extends beyond it, or lacks the value altogether.
	RetractedRead
	// UnexpectedValue: a value was seen that was never sent, whose send
	// definitely failed, or in another partition than it was sent to.
	UnexpectedValue
	// ReplicaDivergence: a record is in one replica's final read and missing
	// from another's (only reported when neither LostWrite nor RetractedRead
	// already covers it, i.e. for records nobody acknowledged or polled).
	ReplicaDivergence
	// MissingFinalRead: a partition was written to or polled but has no
	// final read, so its durability could not be checked.
	MissingFinalRead
	// InvalidHistory: the history is malformed (a value sent twice,
	// acknowledged after a definite failure); the verdict is meaningless.
	InvalidHistory
	// Gap is informational, never an anomaly: a reader skipped offsets
	// without seeking, which Kafka allows.
	Gap
)

var kindNames = map[Kind]string{
	LostWrite:          "lost-write",
	Duplicate:          "duplicate",
	InconsistentOffset: "inconsistent-offset",
	NonMonotonic:       "non-monotonic",
	RetractedRead:      "retracted-read",
	UnexpectedValue:    "unexpected-value",
	ReplicaDivergence:  "replica-divergence",
	MissingFinalRead:   "missing-final-read",
	InvalidHistory:     "invalid-history",
	Gap:                "gap",
}

func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Anomaly is one finding. Offset is -1 where no single offset applies.
type Anomaly struct {
	Kind      Kind
	Topic     string
	Partition int32
	Offset    int64
	Value     string
	// Readers that saw the offending record ("final:<replica>" for final
	// reads), where relevant; capped for records many readers polled.
	Readers []string
	Detail  string
}

func (a Anomaly) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s/%d", a.Kind, a.Topic, a.Partition)
	if a.Offset >= 0 {
		fmt.Fprintf(&b, "@%d", a.Offset)
	}
	if a.Value != "" {
		fmt.Fprintf(&b, " value=%q", a.Value)
	}
	if a.Detail != "" {
		b.WriteString(": ")
		b.WriteString(a.Detail)
	}
	return b.String()
}

// Report is the verdict on a history.
type Report struct {
	Sent           int // distinct values sent (or acknowledged, or failed)
	Acked          int
	FailedDefinite int
	// Indeterminate counts sends whose outcome is unknown: reported as
	// indeterminate, or never resolved at all.
	Indeterminate int
	// IndeterminateSeen counts the indeterminate values that some reader or
	// final read saw: they were written after all.
	IndeterminateSeen int
	Polled            int // Polled calls
	FinalRecords      int // records fed through FinalRead
	// Anomalies are safety violations, sorted by kind, partition, offset and
	// value. The test fails if there is any.
	Anomalies []Anomaly
	// Info holds findings that are legal but worth knowing (offset gaps).
	Info []Anomaly
}

// OK reports whether the history shows no anomaly.
func (r Report) OK() bool { return len(r.Anomalies) == 0 }

// Count returns the number of anomalies (or informational findings, for
// Gap) of kind k.
func (r Report) Count(k Kind) int {
	n := 0
	for _, list := range [][]Anomaly{r.Anomalies, r.Info} {
		for _, a := range list {
			if a.Kind == k {
				n++
			}
		}
	}
	return n
}

// Of returns the anomalies (or informational findings) of kind k.
func (r Report) Of(k Kind) []Anomaly {
	var out []Anomaly
	for _, list := range [][]Anomaly{r.Anomalies, r.Info} {
		for _, a := range list {
			if a.Kind == k {
				out = append(out, a)
			}
		}
	}
	return out
}

// perKindShown is how many anomalies of each kind String prints.
const perKindShown = 10

// String summarises the report: counters, then the first anomalies of each
// kind.
func (r Report) String() string {
	var b strings.Builder
	verdict := "OK"
	if !r.OK() {
		verdict = fmt.Sprintf("FAILED: %d anomalies", len(r.Anomalies))
	}
	fmt.Fprintf(&b, "%s; sent %d, acked %d, failed %d, indeterminate %d (%d seen), polled %d, final records %d, gaps %d\n",
		verdict, r.Sent, r.Acked, r.FailedDefinite, r.Indeterminate, r.IndeterminateSeen,
		r.Polled, r.FinalRecords, r.Count(Gap))
	shown := map[Kind]int{}
	total := map[Kind]int{}
	for _, a := range r.Anomalies {
		total[a.Kind]++
	}
	for _, a := range r.Anomalies {
		if shown[a.Kind] == perKindShown {
			continue
		}
		if shown[a.Kind] == 0 {
			fmt.Fprintf(&b, "%s: %d\n", a.Kind, total[a.Kind])
		}
		shown[a.Kind]++
		fmt.Fprintf(&b, "  %s\n", a)
		if shown[a.Kind] == perKindShown && total[a.Kind] > perKindShown {
			fmt.Fprintf(&b, "  ... and %d more\n", total[a.Kind]-perKindShown)
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// Check analyses the history recorded so far. It may be called more than
// once; it does not change the Checker.
func (c *Checker) Check() Report {
	c.mu.Lock()
	defer c.mu.Unlock()

	r := Report{Polled: c.polled, FinalRecords: c.finalRecords}
	out := slices.Clone(c.found)
	r.Info = slices.Clone(c.info)
	add := func(a Anomaly) { out = append(out, a) }

	for _, s := range c.sends {
		r.Sent++
		switch s.state {
		case stateAcked:
			r.Acked++
		case stateFailed:
			r.FailedDefinite++
		default:
			r.Indeterminate++
		}
	}

	// where maps each value to every place a reader or a final read saw it,
	// with who saw it there; at maps each offset to the values seen or
	// acknowledged there.
	type place struct {
		tp     TopicPartition
		offset int64
	}
	where := map[string]map[place][]string{}
	at := map[place]map[string][]string{}
	see := func(p place, value, who string) {
		w := where[value]
		if w == nil {
			w = map[place][]string{}
			where[value] = w
		}
		w[p] = appendCapped(w[p], who)
		a := at[p]
		if a == nil {
			a = map[string][]string{}
			at[p] = a
		}
		a[value] = appendCapped(a[value], who)
	}
	for k, s := range c.obs {
		for _, rd := range s.readers {
			see(place{k.tp, k.offset}, k.value, rd)
		}
	}
	for tp, byReplica := range c.finals {
		for replica, f := range byReplica {
			for off, v := range f.byOffset {
				see(place{tp, off}, v, readerName(replica, true))
			}
		}
	}
	for v, s := range c.sends {
		if s.state != stateAcked {
			continue
		}
		p := place{s.tp, s.offset}
		a := at[p]
		if a == nil {
			a = map[string][]string{}
			at[p] = a
		}
		a[v] = appendCapped(a[v], "ack")
	}

	// Inconsistent offsets: one offset, several values.
	for p, values := range at {
		if len(values) < 2 {
			continue
		}
		vs := sortedKeys(values)
		parts := make([]string, len(vs))
		for i, v := range vs {
			parts[i] = fmt.Sprintf("%q by %s", v, strings.Join(values[v], ","))
		}
		add(Anomaly{
			Kind: InconsistentOffset, Topic: p.tp.Topic, Partition: p.tp.Partition, Offset: p.offset, Value: vs[0],
			Detail: fmt.Sprintf("%d values at one offset: %s", len(vs), strings.Join(parts, "; ")),
		})
	}

	for v, places := range where {
		ps := make([]place, 0, len(places))
		for p := range places {
			ps = append(ps, p)
		}
		slices.SortFunc(ps, func(a, b place) int {
			return cmp.Or(cmp.Compare(a.tp.Topic, b.tp.Topic), cmp.Compare(a.tp.Partition, b.tp.Partition), cmp.Compare(a.offset, b.offset))
		})
		describe := func(p place) string {
			return fmt.Sprintf("%s@%d by %s", p.tp, p.offset, strings.Join(places[p], ","))
		}
		first := ps[0]

		// Duplicates: one value, several offsets.
		if len(ps) > 1 {
			descs := make([]string, len(ps))
			var readers []string
			for i, p := range ps {
				descs[i] = describe(p)
				readers = append(readers, places[p]...)
			}
			add(Anomaly{
				Kind: Duplicate, Topic: first.tp.Topic, Partition: first.tp.Partition, Offset: first.offset, Value: v,
				Readers: dedup(readers),
				Detail:  fmt.Sprintf("seen at %d offsets: %s", len(ps), strings.Join(descs, "; ")),
			})
		}

		s := c.sends[v]
		switch {
		case s == nil:
			add(Anomaly{
				Kind: UnexpectedValue, Topic: first.tp.Topic, Partition: first.tp.Partition, Offset: first.offset, Value: v,
				Readers: places[first], Detail: "never sent; seen at " + describe(first),
			})
			continue
		case s.state == stateFailed:
			add(Anomaly{
				Kind: UnexpectedValue, Topic: first.tp.Topic, Partition: first.tp.Partition, Offset: first.offset, Value: v,
				Readers: places[first], Detail: "send definitely failed, yet seen at " + describe(first),
			})
		case s.state == stateIndeterminate || s.state == statePending:
			r.IndeterminateSeen++
		}
		for _, p := range ps {
			if s.hasTP && p.tp != s.tp {
				add(Anomaly{
					Kind: UnexpectedValue, Topic: p.tp.Topic, Partition: p.tp.Partition, Offset: p.offset, Value: v,
					Readers: places[p], Detail: fmt.Sprintf("sent to %s, seen at %s", s.tp, describe(p)),
				})
			}
			if s.state == stateAcked && p != (place{s.tp, s.offset}) {
				add(Anomaly{
					Kind: InconsistentOffset, Topic: p.tp.Topic, Partition: p.tp.Partition, Offset: p.offset, Value: v,
					Readers: places[p], Detail: fmt.Sprintf("acknowledged at %s@%d, seen at %s", s.tp, s.offset, describe(p)),
				})
			}
		}
	}

	// Partitions that need a final read and have none.
	unverified := map[TopicPartition][]string{}
	need := func(tp TopicPartition, why string) {
		if _, ok := c.finals[tp]; !ok && len(unverified[tp]) < 3 {
			unverified[tp] = append(unverified[tp], why)
		}
	}

	// Lost writes: acknowledged, absent from a replica's final read.
	for v, s := range c.sends {
		if s.state != stateAcked {
			continue
		}
		byReplica := c.finals[s.tp]
		if byReplica == nil {
			need(s.tp, fmt.Sprintf("acked %q", v))
			continue
		}
		var missing []string
		for _, replica := range sortedKeys(byReplica) {
			if _, ok := byReplica[replica].byValue[v]; !ok {
				missing = append(missing, replica)
			}
		}
		if len(missing) > 0 {
			add(Anomaly{
				Kind: LostWrite, Topic: s.tp.Topic, Partition: s.tp.Partition, Offset: s.offset, Value: v,
				Detail: fmt.Sprintf("acknowledged at offset %d, absent from the final read of %s (of %d replicas read)",
					s.offset, strings.Join(missing, ","), len(byReplica)),
			})
		}
	}

	// Retracted reads: polled, not in the final read where it was polled.
	polledValues := map[string]bool{}
	for k, sg := range c.obs {
		polledValues[k.value] = true
		byReplica := c.finals[k.tp]
		if byReplica == nil {
			need(k.tp, fmt.Sprintf("polled %q", k.value))
			continue
		}
		var why []string
		for _, replica := range sortedKeys(byReplica) {
			f := byReplica[replica]
			held, hasOffset := f.byOffset[k.offset]
			_, hasValue := f.byValue[k.value]
			switch {
			case hasOffset && held != k.value:
				why = append(why, fmt.Sprintf("final:%s holds %q there", replica, held))
			case !hasOffset && k.offset < f.end:
				why = append(why, fmt.Sprintf("final:%s has no record there, below its end offset %d", replica, f.end))
			case !hasValue:
				why = append(why, fmt.Sprintf("final:%s lacks the value (end offset %d)", replica, f.end))
			}
		}
		if len(why) > 0 {
			add(Anomaly{
				Kind: RetractedRead, Topic: k.tp.Topic, Partition: k.tp.Partition, Offset: k.offset, Value: k.value,
				Readers: sg.readers,
				Detail:  fmt.Sprintf("polled by %s, but %s", strings.Join(sg.readers, ","), strings.Join(why, "; ")),
			})
		}
	}

	// Replica divergence not already reported as lost or retracted.
	for tp, byReplica := range c.finals {
		if len(byReplica) < 2 {
			continue
		}
		replicas := sortedKeys(byReplica)
		type rec struct {
			offset int64
			value  string
		}
		missingFrom := map[rec][]string{}
		for _, a := range replicas {
			for off, v := range byReplica[a].byOffset {
				s := c.sends[v]
				if (s != nil && s.state == stateAcked) || polledValues[v] {
					continue
				}
				for _, b := range replicas {
					fb := byReplica[b]
					_, hasOffset := fb.byOffset[off]
					_, hasValue := fb.byValue[v]
					if b != a && !hasOffset && !hasValue {
						missingFrom[rec{off, v}] = append(missingFrom[rec{off, v}], b)
					}
				}
			}
		}
		for rc, bs := range missingFrom {
			add(Anomaly{
				Kind: ReplicaDivergence, Topic: tp.Topic, Partition: tp.Partition, Offset: rc.offset, Value: rc.value,
				Detail: fmt.Sprintf("in some replicas' final read, missing from %s", strings.Join(dedup(bs), ",")),
			})
		}
	}

	for tp, whys := range unverified {
		add(Anomaly{
			Kind: MissingFinalRead, Topic: tp.Topic, Partition: tp.Partition, Offset: -1,
			Detail: "no final read, so durability is unverified; e.g. " + strings.Join(whys, ", "),
		})
	}

	sortAnomalies(out)
	sortAnomalies(r.Info)
	r.Anomalies = out
	return r
}

func sortAnomalies(as []Anomaly) {
	slices.SortStableFunc(as, func(a, b Anomaly) int {
		return cmp.Or(
			cmp.Compare(a.Kind, b.Kind),
			cmp.Compare(a.Topic, b.Topic),
			cmp.Compare(a.Partition, b.Partition),
			cmp.Compare(a.Offset, b.Offset),
			cmp.Compare(a.Value, b.Value),
			cmp.Compare(a.Detail, b.Detail),
		)
	})
}

// appendCapped adds who to a sorted list of distinct names of at most
// maxReaders. Sorted, so details do not depend on map iteration order.
func appendCapped(list []string, who string) []string {
	i, found := slices.BinarySearch(list, who)
	if found || len(list) >= maxReaders {
		return list
	}
	return slices.Insert(list, i, who)
}

func dedup(xs []string) []string {
	slices.Sort(xs)
	return slices.Compact(xs)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
