package cluster

import "time"

// Liveness decides which brokers are alive from repeated observations of
// their session-lease record versions, on the observer's own monotonic
// clock (lease rule 2 of package lease): a broker is alive while its RVN
// has changed within the last lease duration, as this observer saw it. No
// timestamp written by another host is ever compared.
//
// A broker first seen counts as alive for one duration from then: its
// lease may be fresh, and if it is not, it will not change and the broker
// is declared dead one duration later, exactly when a contender could take
// its lease over.
type Liveness struct {
	seen map[int32]sighting
}

type sighting struct {
	rvn      string
	changed  time.Time // when this observer first saw rvn
	duration time.Duration
	released bool
}

// Observation is one broker's lease record as read now.
type Observation struct {
	Broker   int32
	RVN      string
	Duration time.Duration
	Released bool // holder "" : the broker shut down cleanly
}

// NewLiveness returns a tracker that has seen nothing.
func NewLiveness() *Liveness { return &Liveness{seen: map[int32]sighting{}} }

// Observe records a read of every broker lease at now. Brokers absent
// from obs are forgotten (their registration was deleted).
func (l *Liveness) Observe(now time.Time, obs []Observation) {
	next := make(map[int32]sighting, len(obs))
	for _, o := range obs {
		s, ok := l.seen[o.Broker]
		if !ok || s.rvn != o.RVN {
			s = sighting{rvn: o.RVN, changed: now}
		}
		s.duration, s.released = o.Duration, o.Released
		next[o.Broker] = s
	}
	l.seen = next
}

// Alive reports whether broker is alive as of now.
func (l *Liveness) Alive(broker int32, now time.Time) bool {
	s, ok := l.seen[broker]
	return ok && !s.released && now.Sub(s.changed) < s.duration
}

// AliveSet returns a predicate for Elect as of now.
func (l *Liveness) AliveSet(now time.Time) func(int32) bool {
	return func(b int32) bool { return l.Alive(b, now) }
}
