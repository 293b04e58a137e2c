package sasl

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafki/kafki/internal/poll"

	"github.com/xdg-go/scram"
)

func mustCred(t testing.TB, m ScramMechanism, pass string) ScramCredential {
	t.Helper()
	c, err := NewCredential(m, pass, MinIterations)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testAuth(t testing.TB, mechs ...string) *Authenticator {
	t.Helper()
	st := StaticScram{"alice": {SHA256: mustCred(t, SHA256, "alice-pw"), SHA512: mustCred(t, SHA512, "alice-pw")}}
	a, err := New(Options{Mechanisms: mechs, Credentials: st, PlainUsers: map[string]string{"dev": "dev-pw"}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func plainStep(t *testing.T, a *Authenticator, msg string) (string, error) {
	t.Helper()
	e, err := a.Start(Plain)
	if err != nil {
		t.Fatal(err)
	}
	_, done, err := e.Step([]byte(msg))
	if err == nil && !done {
		t.Fatal("PLAIN not done after one step")
	}
	return e.User(), err
}

func TestPlain(t *testing.T) {
	a := testAuth(t, Plain)
	for _, c := range []struct {
		msg, user, fail string
	}{
		{"\x00alice\x00alice-pw", "alice", ""},      // against the SCRAM credential
		{"alice\x00alice\x00alice-pw", "alice", ""}, // authzid = authcid
		{"\x00dev\x00dev-pw", "dev", ""},            // the development file
		{"\x00alice\x00wrong", "", "invalid credentials"},
		{"\x00nobody\x00alice-pw", "", "invalid credentials"},
		{"\x00dev\x00dev-p", "", "invalid credentials"},
		{"bob\x00alice\x00alice-pw", "", "authorization id that is different"},
		{"\x00\x00pw", "", "username not specified"},
		{"\x00alice\x00", "", "password not specified"},
		{"alice\x00alice-pw", "", "expected [authzid]"},
		{"a\x00b\x00c\x00d", "", "expected [authzid]"},
	} {
		user, err := plainStep(t, a, c.msg)
		switch {
		case c.fail == "" && (err != nil || user != c.user):
			t.Errorf("%q: user %q, err %v; want %q", c.msg, user, err, c.user)
		case c.fail != "" && (!errors.Is(err, ErrAuthenticationFailed) || !strings.Contains(err.Error(), c.fail)):
			t.Errorf("%q: err %v, want failure %q", c.msg, err, c.fail)
		case err != nil && strings.Contains(err.Error(), "pw"):
			t.Errorf("%q: error %q quotes the password", c.msg, err)
		}
	}
}

func TestMechanismNotEnabled(t *testing.T) {
	a := testAuth(t, ScramSHA512)
	_, err := a.Start(Plain)
	if !errors.Is(err, ErrUnsupportedMechanism) || !strings.Contains(err.Error(), "SCRAM-SHA-512") {
		t.Fatalf("PLAIN on a SCRAM-only authenticator: %v", err)
	}
	if _, err := New(Options{Mechanisms: []string{"GSSAPI"}}); err == nil {
		t.Fatal("GSSAPI accepted")
	}
}

// scramLogin runs a whole SCRAM exchange with xdg-go's client.
func scramLogin(t *testing.T, a *Authenticator, m ScramMechanism, user, pass string) (string, error) {
	t.Helper()
	e, err := a.Start(m.Name())
	if err != nil {
		t.Fatal(err)
	}
	cl, err := m.hashGen().NewClientUnprepped(user, pass, "")
	if err != nil {
		t.Fatal(err)
	}
	conv := cl.NewConversation()
	msg, err := conv.Step("")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		resp, done, err := e.Step([]byte(msg))
		if err != nil {
			return "", err
		}
		if done {
			if _, err := conv.Step(string(resp)); err != nil {
				t.Fatalf("client rejects the server's final message: %v", err)
			}
			return e.User(), nil
		}
		if msg, err = conv.Step(string(resp)); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatal("exchange did not end")
	return "", nil
}

func TestScram(t *testing.T) {
	a := testAuth(t, ScramSHA256, ScramSHA512)
	for _, m := range ScramMechanisms {
		if u, err := scramLogin(t, a, m, "alice", "alice-pw"); err != nil || u != "alice" {
			t.Errorf("%v: %q %v", m, u, err)
		}
		for _, bad := range [][2]string{{"alice", "wrong"}, {"nobody", "alice-pw"}} {
			_, err := scramLogin(t, a, m, bad[0], bad[1])
			if !errors.Is(err, ErrAuthenticationFailed) || !strings.Contains(err.Error(), "invalid credentials") {
				t.Errorf("%v %s: %v", m, bad[0], err)
			}
		}
	}
}

// An unknown user gets a salt like anyone's, stable across attempts, so
// the first step does not tell it apart.
func TestScramUnknownUserLooksKnown(t *testing.T) {
	a := testAuth(t, ScramSHA256)
	first := func(user string) string {
		e, _ := a.Start(ScramSHA256)
		resp, _, err := e.Step([]byte("n,,n=" + user + ",r=abcdefgh"))
		if err != nil {
			t.Fatalf("%s: %v", user, err)
		}
		return string(resp)
	}
	salt := func(s string) string { return s[strings.Index(s, ",s="):] }
	if salt(first("nobody")) != salt(first("nobody")) {
		t.Fatal("an unknown user's salt changes between attempts")
	}
}

func TestCredentialFromSaltedPasswordMatchesDerivation(t *testing.T) {
	for _, m := range ScramMechanisms {
		salt := []byte("0123456789abcdef")
		cl, _ := m.hashGen().NewClientUnprepped("", "pw", "")
		want := cl.GetStoredCredentials(scram.KeyFactors{Salt: string(salt), Iters: 4096})
		// Hi(pw, salt, i) is PBKDF2; recover it from a known derivation
		// by deriving the credential both ways through the public API.
		d, err := deriveCredential(m, "", "pw", salt, 4096)
		if err != nil || string(d.StoredKey) != string(want.StoredKey) {
			t.Fatalf("%v: derive %v", m, err)
		}
		if _, err := CredentialFromSaltedPassword(m, salt, []byte("x"), 4095); !errors.Is(err, ErrBadCredential) {
			t.Errorf("%v: 4095 iterations: %v", m, err)
		}
		if _, err := CredentialFromSaltedPassword(m, nil, []byte("x"), 4096); !errors.Is(err, ErrBadCredential) {
			t.Errorf("%v: empty salt: %v", m, err)
		}
	}
}

func TestSecretNeverPrintsPassword(t *testing.T) {
	s := Secret{Username: "u", Password: "hunter2"}
	if strings.Contains(s.String(), "hunter2") {
		t.Fatal(s.String())
	}
}

// memUsers is an in-memory UserStore.
type memUsers struct {
	mu    sync.Mutex
	users map[string]User
	reads int
	// during, when set, runs inside a read (a change racing the refresh).
	during func()
}

func (m *memUsers) ScramUsers(context.Context) ([]User, error) {
	m.mu.Lock()
	m.reads++
	during := m.during
	m.during = nil
	out := make([]User, 0, len(m.users))
	for _, u := range m.users {
		out = append(out, u)
	}
	m.mu.Unlock()
	if during != nil {
		during()
	}
	return out, nil
}

func (m *memUsers) PutScramCredential(_ context.Context, user string, mech ScramMechanism, c ScramCredential) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[user]
	if !ok {
		u = User{Name: user, Credentials: map[ScramMechanism]ScramCredential{}}
	}
	u.Credentials[mech] = c
	m.users[user] = u
	return nil
}

func (m *memUsers) DeleteScramCredential(context.Context, string, ScramMechanism) error { return nil }

// A change applied while the cache reads is not lost: Run reads again.
func TestCacheRunMissesNoChange(t *testing.T) {
	store := &memUsers{users: map[string]User{}}
	c := NewCache(store)
	var mu sync.Mutex
	ch := make(chan struct{})
	changed := func() <-chan struct{} { mu.Lock(); defer mu.Unlock(); return ch }
	bump := func() { mu.Lock(); close(ch); ch = make(chan struct{}); mu.Unlock() }
	// The first read (Run's start) sees no user; during it, alice is
	// created and the metadata changes.
	store.during = func() {
		_ = store.PutScramCredential(t.Context(), "alice", SHA256, ScramCredential{Iterations: 4096})
		bump()
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx, changed, time.Millisecond, slog.New(slog.DiscardHandler)) }()
	poll.True(t, 5*time.Second, "the cache has alice", func() bool { _, ok := c.User("alice"); return ok })
	cancel()
	<-done
}
