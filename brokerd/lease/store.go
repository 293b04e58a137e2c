package lease

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrConflict means a conditional write found the record not as expected:
// someone else wrote it first. It is the normal outcome of a lost race,
// not a failure of the store.
var ErrConflict = errors.New("lease record changed concurrently")

// Record is a lease as stored.
type Record struct {
	Name     string
	Holder   string // "" when released
	RVN      string // changes at every write
	Epoch    int64  // increases at every change of holder
	Duration time.Duration
}

// Store keeps lease records with compare-and-set semantics.
type Store interface {
	// Get returns the record, or found=false.
	Get(ctx context.Context, name string) (rec Record, found bool, err error)
	// Create writes rec if no record of that name exists, else ErrConflict.
	Create(ctx context.Context, rec Record) error
	// Swap replaces the record if its RVN is still expectRVN, else
	// ErrConflict.
	Swap(ctx context.Context, expectRVN string, next Record) error
}

// MemStore is an in-memory Store for unit tests of code built on leases.
type MemStore struct {
	mu   sync.Mutex
	recs map[string]Record
	// Fail, when set, is returned by every call (simulates an unreachable
	// store).
	Fail error
}

// NewMemStore returns an empty store.
func NewMemStore() *MemStore { return &MemStore{recs: map[string]Record{}} }

// Get implements Store.
func (m *MemStore) Get(_ context.Context, name string) (Record, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail != nil {
		return Record{}, false, m.Fail
	}
	r, ok := m.recs[name]
	return r, ok, nil
}

// Create implements Store.
func (m *MemStore) Create(_ context.Context, rec Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail != nil {
		return m.Fail
	}
	if _, ok := m.recs[rec.Name]; ok {
		return fmt.Errorf("create %s: %w", rec.Name, ErrConflict)
	}
	m.recs[rec.Name] = rec
	return nil
}

// Swap implements Store.
func (m *MemStore) Swap(_ context.Context, expectRVN string, next Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail != nil {
		return m.Fail
	}
	cur, ok := m.recs[next.Name]
	if !ok || cur.RVN != expectRVN {
		return fmt.Errorf("swap %s: %w", next.Name, ErrConflict)
	}
	m.recs[next.Name] = next
	return nil
}
