package sasl

import "testing"

// The CPU cost of one authentication on the broker: SCRAM verifies a
// proof with two HMACs and a hash (the client pays the PBKDF2), PLAIN
// derives the StoredKey with the credential's iterations (PBKDF2 on the
// broker), which is what makes PLAIN against SCRAM credentials slower.
func BenchmarkScramSHA512Login(b *testing.B) {
	a := testAuth(b, ScramSHA512)
	cl, _ := SHA512.hashGen().NewClientUnprepped("alice", "alice-pw", "")
	b.ReportAllocs()
	for b.Loop() {
		e, _ := a.Start(ScramSHA512)
		conv := cl.NewConversation()
		c1, _ := conv.Step("")
		s1, _, err := e.Step([]byte(c1))
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		c2, _ := conv.Step(string(s1)) // the client's PBKDF2, not the broker's cost
		b.StartTimer()
		if _, done, err := e.Step([]byte(c2)); err != nil || !done {
			b.Fatal(err)
		}
	}
}

func BenchmarkPlainLoginAgainstScram(b *testing.B) {
	a := testAuth(b, Plain)
	b.ReportAllocs()
	for b.Loop() {
		e, _ := a.Start(Plain)
		if _, done, err := e.Step([]byte("\x00alice\x00alice-pw")); err != nil || !done {
			b.Fatal(err)
		}
	}
}
