package cluster

import (
	"testing"
	"time"
)

func TestLivenessFollowsRVNChangesOnObserverClock(t *testing.T) {
	l := NewLiveness()
	t0 := time.Unix(100, 0)
	d := 10 * time.Second
	l.Observe(t0, []Observation{{1, "a", d, false}, {2, "x", d, false}})
	if !l.Alive(1, t0) || !l.Alive(2, t0.Add(d-time.Nanosecond)) {
		t.Fatal("first sighting must count as alive for one duration")
	}
	// Broker 1 renews, broker 2 does not.
	l.Observe(t0.Add(6*time.Second), []Observation{{1, "b", d, false}, {2, "x", d, false}})
	at := t0.Add(12 * time.Second)
	if !l.Alive(1, at) {
		t.Fatal("renewing broker declared dead")
	}
	if l.Alive(2, at) {
		t.Fatal("silent broker still alive after a full duration")
	}
	// A clean shutdown is dead at once; an unknown broker is dead.
	l.Observe(at, []Observation{{1, "c", d, true}})
	if l.Alive(1, at) || l.Alive(2, at) || l.Alive(7, at) {
		t.Fatal("released or forgotten broker alive")
	}
	alive := l.AliveSet(at)
	if alive(1) {
		t.Fatal("AliveSet disagrees")
	}
}
