package sasl

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"
)

// User is a SCRAM user as stored: its credentials, at most one per
// mechanism.
type User struct {
	Name        string
	Credentials map[ScramMechanism]ScramCredential
}

// UserStore persists SCRAM users: the metadata store (package meta's
// embedded file on a single node, package metastore's DynamoDB table in a
// cluster). A write is durable when it returns, and in a cluster it bumps
// the metadata version, so every broker's Cache refreshes within one
// metadata poll.
type UserStore interface {
	// ScramUsers returns every user with at least one credential, sorted
	// by name.
	ScramUsers(ctx context.Context) ([]User, error)
	// PutScramCredential creates or replaces user's credential for m.
	PutScramCredential(ctx context.Context, user string, m ScramMechanism, c ScramCredential) error
	// DeleteScramCredential removes user's credential for m;
	// ErrNoCredential if there is none. A user left without credentials
	// is gone.
	DeleteScramCredential(ctx context.Context, user string, m ScramMechanism) error
}

// Cache is an in-memory copy of a UserStore's users, which
// authentication reads without I/O. Refresh replaces it whole; the
// broker refreshes at start, after each of its own writes, and whenever
// the cluster's metadata changed (Run). Safe for concurrent use.
type Cache struct {
	store UserStore

	// refreshMu serialises refreshes, so that a slow read cannot replace
	// the result of a newer one.
	refreshMu sync.Mutex
	mu        sync.RWMutex
	users     map[string]User // guarded by mu; replaced whole, never modified
}

var _ Credentials = (*Cache)(nil)

// NewCache returns an empty cache of store; call Refresh before use.
func NewCache(store UserStore) *Cache { return &Cache{store: store, users: map[string]User{}} }

// Refresh reads every user from the store.
func (c *Cache) Refresh(ctx context.Context) error {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	list, err := c.store.ScramUsers(ctx)
	if err != nil {
		return fmt.Errorf("read SCRAM users: %w", err)
	}
	m := make(map[string]User, len(list))
	for _, u := range list {
		m[u.Name] = u
	}
	c.mu.Lock()
	c.users = m
	c.mu.Unlock()
	return nil
}

// ScramCredential implements Credentials.
func (c *Cache) ScramCredential(user string, m ScramMechanism) (ScramCredential, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	cred, ok := c.users[user].Credentials[m]
	return cred, ok
}

// Users returns the cached users, sorted by name (DescribeUserScramCredentials).
func (c *Cache) Users() []User {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]User, 0, len(c.users))
	for _, u := range c.users {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// User returns one cached user.
func (c *Cache) User(name string) (User, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	u, ok := c.users[name]
	return u, ok
}

// Store is the cache's store, for writes.
func (c *Cache) Store() UserStore { return c.store }

// Run refreshes the cache every time changed's channel closes (a node's
// applied metadata snapshot: node.Node.Changed) until ctx ends, and once
// at the start (a change may have come since the caller's first Refresh).
// The next channel is taken before each read, so a snapshot applied
// during a read causes another read: no change is missed. A failed
// refresh is logged and retried after retry.
func (c *Cache) Run(ctx context.Context, changed func() <-chan struct{}, retry time.Duration, log *slog.Logger) {
	for {
		ch := changed()
		for {
			err := c.Refresh(ctx)
			if err == nil || ctx.Err() != nil {
				break
			}
			log.Warn("refresh SCRAM users", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(retry):
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ch:
		}
	}
}

// Chain looks credentials up in each source in turn; the first that has
// the user's credential answers.
type Chain []Credentials

// ScramCredential implements Credentials.
func (ch Chain) ScramCredential(user string, m ScramMechanism) (ScramCredential, bool) {
	for _, c := range ch {
		if c == nil {
			continue
		}
		if cred, ok := c.ScramCredential(user, m); ok {
			return cred, true
		}
	}
	return ScramCredential{}, false
}
