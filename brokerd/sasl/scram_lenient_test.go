package sasl

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha512"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
)

// librdkafka's client-final nonce is its client nonce followed by the
// combined nonce; as in Kafka, the proof is checked over the message as
// sent, and a wrong password still fails.
func TestScramFinalWithRepeatedNonce(t *testing.T) {
	a := testAuth(t, ScramSHA512)
	for _, c := range []struct {
		pass string
		ok   bool
	}{{"alice-pw", true}, {"wrong", false}} {
		e, _ := a.Start(ScramSHA512)
		const cnonce = "fyko+d2lbbFgONRv9qkxdawL"
		c1bare := "n=alice,r=" + cnonce
		s1, _, err := e.Step([]byte("n,," + c1bare))
		if err != nil {
			t.Fatal(err)
		}
		combined, _ := scramAttr(string(s1), "r")
		saltB64, _ := scramAttr(string(s1), "s")
		iters, _ := scramAttr(string(s1), "i")
		salt, _ := base64.StdEncoding.DecodeString(saltB64)
		n, _ := strconv.Atoi(iters)
		salted, err := pbkdf2.Key(sha512.New, c.pass, salt, n, sha512.Size)
		if err != nil {
			t.Fatal(err)
		}
		mac := hmac.New(sha512.New, salted)
		mac.Write([]byte("Client Key"))
		clientKey := mac.Sum(nil)
		stored := sha512.Sum512(clientKey)
		withoutProof := "c=biws,r=" + cnonce + combined
		mac = hmac.New(sha512.New, stored[:])
		mac.Write([]byte(c1bare + "," + string(s1) + "," + withoutProof))
		sig := mac.Sum(nil)
		for i := range sig {
			sig[i] ^= clientKey[i]
		}
		resp, done, err := e.Step([]byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(sig)))
		if c.ok != (err == nil && done && e.User() == "alice" && strings.HasPrefix(string(resp), "v=")) {
			t.Fatalf("password %q: done %v user %q resp %q err %v", c.pass, done, e.User(), resp, err)
		}
	}
}
