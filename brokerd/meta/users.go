package meta

import (
	"context"
	"fmt"
	"sort"

	"github.com/kafki/kafki/brokerd/sasl"
)

// The embedded store keeps SCRAM users in its document (sasl.UserStore):
// salt, iterations, StoredKey and ServerKey per user and mechanism, never
// a password. Each write is durable before it returns, like every other
// change.
var _ sasl.UserStore = (*Embedded)(nil)

// scramRecord is one stored credential (byte fields are base64 in JSON).
type scramRecord struct {
	Salt       []byte `json:"salt"`
	StoredKey  []byte `json:"stored_key"`
	ServerKey  []byte `json:"server_key"`
	Iterations int    `json:"iterations"`
}

// ScramUsers implements sasl.UserStore.
func (e *Embedded) ScramUsers(ctx context.Context) ([]sasl.User, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]sasl.User, 0, len(e.doc.ScramUsers))
	for name, creds := range e.doc.ScramUsers {
		u := sasl.User{Name: name, Credentials: map[sasl.ScramMechanism]sasl.ScramCredential{}}
		for mech, r := range creds {
			m, ok := sasl.ParseScramMechanism(mech)
			if !ok {
				return nil, fmt.Errorf("metadata file %s: user %q has a credential of unknown mechanism %q", e.path, name, mech)
			}
			u.Credentials[m] = sasl.ScramCredential{Salt: r.Salt, StoredKey: r.StoredKey, ServerKey: r.ServerKey, Iterations: r.Iterations}
		}
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// PutScramCredential implements sasl.UserStore.
func (e *Embedded) PutScramCredential(ctx context.Context, user string, m sasl.ScramMechanism, c sasl.ScramCredential) error {
	if user == "" || !m.Valid() {
		return fmt.Errorf("%w: user %q, mechanism %v", sasl.ErrBadCredential, user, m)
	}
	return e.update(func(d *embeddedDoc) error {
		d.ScramUsers = cloneUsers(d.ScramUsers)
		creds := d.ScramUsers[user]
		if creds == nil {
			creds = map[string]scramRecord{}
			d.ScramUsers[user] = creds
		}
		creds[m.Name()] = scramRecord{Salt: c.Salt, StoredKey: c.StoredKey, ServerKey: c.ServerKey, Iterations: c.Iterations}
		return nil
	})
}

// DeleteScramCredential implements sasl.UserStore.
func (e *Embedded) DeleteScramCredential(ctx context.Context, user string, m sasl.ScramMechanism) error {
	return e.update(func(d *embeddedDoc) error {
		if _, ok := d.ScramUsers[user][m.Name()]; !ok {
			return fmt.Errorf("%w: user %q, %v", sasl.ErrNoCredential, user, m)
		}
		d.ScramUsers = cloneUsers(d.ScramUsers)
		delete(d.ScramUsers[user], m.Name())
		if len(d.ScramUsers[user]) == 0 {
			delete(d.ScramUsers, user)
		}
		return nil
	})
}

// cloneUsers copies the users two levels deep, so that an update's
// changes never reach the document in memory before the file.
func cloneUsers(in map[string]map[string]scramRecord) map[string]map[string]scramRecord {
	out := make(map[string]map[string]scramRecord, len(in)+1)
	for u, creds := range in {
		c := make(map[string]scramRecord, len(creds))
		for m, r := range creds {
			c[m] = r
		}
		out[u] = c
	}
	return out
}
