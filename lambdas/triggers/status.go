package triggers

import (
	"sort"
	"strings"
	"time"
)

// Status is what runners report about a trigger, kept beside its
// definition in the store. Several runners may run one trigger (they
// split its partitions), so each keeps its own entry in Instances and
// the other fields summarise the live entries (see MergeStatus).
//
// The store's status write is last-writer-wins, so a runner writes
// read-modify-write: it merges its entry into the status it read on its
// last poll. Two runners writing at once can drop each other's entry;
// each runner checks its entry in every poll's read and writes it again
// when it is missing or differs, so a lost entry is back within a poll
// interval. An entry a runner stops refreshing (the runner was killed)
// expires at ExpiresAt and is then ignored and dropped.
type Status struct {
	// State: running, disabled, failed (the function cannot be invoked:
	// records are held, nothing is skipped) or stopped. With several
	// instances: failed if any live instance failed, else running if any
	// runs, else disabled if any reported it, else stopped.
	State string `json:"state"`
	// Runner names the live instances in State (comma-separated).
	Runner     string    `json:"runner,omitempty"`
	LastResult string    `json:"last_result,omitempty"`
	LastError  string    `json:"last_error,omitempty"`
	LastInvoke time.Time `json:"last_invoke,omitzero"`
	Delivered  int64     `json:"delivered"` // records the listed instances delivered
	ToFailure  int64     `json:"to_failure"`
	UpdatedAt  time.Time `json:"updated_at"`
	// Instances are the runners' own entries, sorted by name.
	Instances []InstanceStatus `json:"instances,omitempty"`
}

// InstanceStatus is one runner's report on one trigger.
type InstanceStatus struct {
	Instance   string    `json:"instance"`
	State      string    `json:"state"`
	Partitions int       `json:"partitions"` // assigned to this instance
	LastResult string    `json:"last_result,omitempty"`
	LastError  string    `json:"last_error,omitempty"`
	LastInvoke time.Time `json:"last_invoke,omitzero"`
	Delivered  int64     `json:"delivered"` // since this instance started the trigger
	ToFailure  int64     `json:"to_failure"`
	UpdatedAt  time.Time `json:"updated_at"`
	// ExpiresAt: the writer refreshes the entry before then; after it,
	// readers treat the instance as gone (its clock, so runners' clocks
	// should agree to well within the expiry).
	ExpiresAt time.Time `json:"expires_at"`
}

// Expired reports whether the entry's runner stopped refreshing it.
func (e InstanceStatus) Expired(now time.Time) bool { return !now.Before(e.ExpiresAt) }

// sameReport reports whether a and b say the same, timestamps aside.
func (e InstanceStatus) sameReport(o InstanceStatus) bool {
	return e.Instance == o.Instance && e.State == o.State && e.Partitions == o.Partitions && e.LastResult == o.LastResult &&
		e.LastError == o.LastError && e.LastInvoke.Equal(o.LastInvoke) && e.Delivered == o.Delivered && e.ToFailure == o.ToFailure
}

// Instance returns the entry of the named instance.
func (s Status) Instance(name string) (InstanceStatus, bool) {
	for _, e := range s.Instances {
		if e.Instance == name {
			return e, true
		}
	}
	return InstanceStatus{}, false
}

// MergeStatus returns cur with mine replacing the entry of mine.Instance,
// the entries expired at now dropped, and the summary recomputed.
func MergeStatus(cur Status, mine InstanceStatus, now time.Time) Status {
	out := Status{Instances: []InstanceStatus{mine}}
	for _, e := range cur.Instances {
		if e.Instance != mine.Instance && !e.Expired(now) {
			out.Instances = append(out.Instances, e)
		}
	}
	sort.Slice(out.Instances, func(i, j int) bool { return out.Instances[i].Instance < out.Instances[j].Instance })
	return out.Current(now)
}

// Current is s with the summary recomputed from the entries live at now:
// a reader's view, so an instance that died without a word no longer
// counts once its entry expired. A status without entries (written
// before runners kept them) is returned as it is.
func (s Status) Current(now time.Time) Status {
	if len(s.Instances) == 0 {
		return s
	}
	out := Status{Instances: s.Instances, UpdatedAt: s.UpdatedAt}
	var live []InstanceStatus
	for _, e := range s.Instances {
		out.Delivered += e.Delivered
		out.ToFailure += e.ToFailure
		if e.UpdatedAt.After(out.UpdatedAt) {
			out.UpdatedAt = e.UpdatedAt
		}
		if !e.Expired(now) {
			live = append(live, e)
		}
	}
	out.State = StateStopped
	for _, st := range []string{StateFailed, StateRunning, StateDisabled} {
		var names []string
		for _, e := range live {
			if e.State == st {
				names = append(names, e.Instance)
			}
		}
		if len(names) > 0 {
			out.State, out.Runner = st, strings.Join(names, ",")
			break
		}
	}
	// The last result is the latest invocation's, among the instances in
	// the summary's state when it is failed (the error that holds records).
	for _, e := range s.Instances {
		if out.State == StateFailed && e.State != StateFailed {
			continue
		}
		if e.LastInvoke.After(out.LastInvoke) || out.LastResult == "" && e.LastResult != "" {
			out.LastResult, out.LastError, out.LastInvoke = e.LastResult, e.LastError, e.LastInvoke
		}
	}
	return out
}
