package sasl

import (
	"bytes"
	"crypto/hmac"
	"encoding/base64"
	"strings"
)

// finalLenient verifies a SCRAM client-final message whose nonce is not
// the combined nonce of the server-first message but ends with it, which
// is what librdkafka sends (its client nonce, then the combined one).
// Kafka's ScramSaslServer accepts it (it checks that the client's nonce
// endsWith the server's); xdg-go/scram, per RFC 5802, wants equality. So
// that one case is verified here with the RFC 5802 §3 formulas on the
// standard library's HMAC and hash:
//
//	AuthMessage     = client-first-bare "," server-first "," client-final-without-proof
//	ClientSignature = HMAC(StoredKey, AuthMessage)
//	ClientKey       = ClientProof XOR ClientSignature; H(ClientKey) must be StoredKey
//	ServerSignature = HMAC(ServerKey, AuthMessage), sent as "v=" base64
//
// lenient is false when the message is not such a case (the library
// handles it); ok says whether the proof holds.
func (e *Exchange) finalLenient(msg []byte) (resp []byte, ok, lenient bool) {
	final := string(msg)
	nonce, okN := scramAttr(final, "r")
	sent, okS := scramAttr(e.serverFirst, "r")
	if !okN || !okS || nonce == sent || !strings.HasSuffix(nonce, sent) {
		return nil, false, false
	}
	i := strings.LastIndex(final, ",p=")
	if i < 0 {
		return nil, false, true
	}
	withoutProof := final[:i]
	proof, err := base64.StdEncoding.DecodeString(final[i+3:])
	if err != nil {
		return nil, false, true
	}
	// The channel binding must be the client's GS2 header (no binding).
	cb, okC := scramAttr(final, "c")
	gs2, bare, okG := splitClientFirst(e.clientFirst)
	if !okC || !okG || cb != base64.StdEncoding.EncodeToString([]byte(gs2)) {
		return nil, false, true
	}
	authMsg := []byte(bare + "," + e.serverFirst + "," + withoutProof)
	h := e.scramMech.newHash()
	mac := hmac.New(h, e.cred.StoredKey)
	mac.Write(authMsg)
	sig := mac.Sum(nil)
	if len(proof) != len(sig) {
		return nil, false, true
	}
	clientKey := make([]byte, len(sig))
	for j := range sig {
		clientKey[j] = proof[j] ^ sig[j]
	}
	hh := h()
	hh.Write(clientKey)
	if !hmac.Equal(hh.Sum(nil), e.cred.StoredKey) {
		return nil, false, true
	}
	mac = hmac.New(h, e.cred.ServerKey)
	mac.Write(authMsg)
	return []byte("v=" + base64.StdEncoding.EncodeToString(mac.Sum(nil))), true, true
}

// scramAttr returns attribute name's value in a SCRAM message.
func scramAttr(msg, name string) (string, bool) {
	for _, f := range strings.Split(msg, ",") {
		if v, ok := strings.CutPrefix(f, name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// splitClientFirst splits a client-first message into its GS2 header
// ("n,," or "n,a=...,") and the bare message after it.
func splitClientFirst(c1 string) (gs2, bare string, ok bool) {
	i := strings.IndexByte(c1, ',')
	if i < 0 {
		return "", "", false
	}
	j := strings.IndexByte(c1[i+1:], ',')
	if j < 0 {
		return "", "", false
	}
	k := i + 1 + j + 1
	return c1[:k], c1[k:], !bytes.HasPrefix([]byte(c1), []byte("p"))
}
