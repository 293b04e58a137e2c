package sasl

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzPlain: any PLAIN message either authenticates a user whose
// password it carries or fails with ErrAuthenticationFailed; it never
// panics, and a failure never quotes the message.
func FuzzPlain(f *testing.F) {
	for _, s := range []string{"\x00alice\x00alice-pw", "alice\x00alice\x00alice-pw", "\x00\x00", "", "\x00a\x00b\x00c", "\xff\xfe\x00\x00x"} {
		f.Add([]byte(s))
	}
	a := testAuth(f, Plain)
	f.Fuzz(func(t *testing.T, msg []byte) {
		e, err := a.Start(Plain)
		if err != nil {
			t.Fatal(err)
		}
		_, done, err := e.Step(msg)
		if err != nil {
			if !errors.Is(err, ErrAuthenticationFailed) {
				t.Fatalf("error %v is not an authentication failure", err)
			}
			if p := bytes.Split(msg, []byte{0}); len(p) == 3 && len(p[2]) > 3 && bytes.Contains([]byte(err.Error()), p[2]) {
				t.Fatalf("error %q quotes the password", err)
			}
			return
		}
		if !done || (e.User() != "alice" && e.User() != "dev") {
			t.Fatalf("%q authenticated %q", msg, e.User())
		}
	})
}

// FuzzScram: two arbitrary client messages never panic the SCRAM server
// and never authenticate (no proof is known to the fuzzer); a failure is
// ErrAuthenticationFailed.
func FuzzScram(f *testing.F) {
	f.Add([]byte("n,,n=alice,r=rOprNGfwEbeRWgbNEkqO"), []byte("c=biws,r=rOprNGfwEbeRWgbNEkqO,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="))
	f.Add([]byte("n,a=bob,n=alice,r=x"), []byte(""))
	f.Add([]byte("y,,n=al=2Cice,r=abc,tokenauth=true"), []byte("c=eSws,r=abc,p=AAAA"))
	f.Add([]byte("p=tls-unique,,n=a,r=b"), []byte("c=,r=,p="))
	f.Add([]byte(",,,"), []byte(",,,"))
	a := testAuth(f, ScramSHA256, ScramSHA512)
	f.Fuzz(func(t *testing.T, first, final []byte) {
		for _, m := range []string{ScramSHA256, ScramSHA512} {
			e, err := a.Start(m)
			if err != nil {
				t.Fatal(err)
			}
			_, done, err := e.Step(first)
			if done {
				t.Fatal("authenticated on the first message")
			}
			if err != nil {
				if !errors.Is(err, ErrAuthenticationFailed) {
					t.Fatalf("first: %v", err)
				}
				continue
			}
			_, done, err = e.Step(final)
			if done || err == nil || !errors.Is(err, ErrAuthenticationFailed) {
				t.Fatalf("final %q: done %v err %v", final, done, err)
			}
			if _, _, err := e.Step(final); !errors.Is(err, ErrAuthenticationFailed) {
				t.Fatalf("step after the end: %v", err)
			}
		}
	})
}
