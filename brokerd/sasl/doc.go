// Package sasl authenticates Kafka clients with SASL, as Kafka's
// SaslServerAuthenticator does: the mechanisms PLAIN (RFC 4616) and
// SCRAM-SHA-256/SCRAM-SHA-512 (RFC 5802, RFC 7677, through
// github.com/xdg-go/scram), and the SCRAM credentials they check.
//
// Package server drives it: SaslHandshake picks a mechanism
// (Authenticator.Start), each SaslAuthenticate is one Exchange.Step, and
// a finished exchange names the user the connection's principal becomes
// (User:<name>).
//
// Invariants:
//   - No password is ever stored or logged. A user's SCRAM credential is
//     its salt, iteration count, StoredKey and ServerKey (RFC 5802 §3);
//     PLAIN checks a password by deriving the StoredKey with the stored
//     salt and iterations and comparing in constant time. The only
//     plaintext passwords in memory are those of the development PLAIN
//     file (PlainFile) and the broker's own inter-broker secret
//     (InterBroker), both read from files the operator controls.
//   - Every failure to authenticate wraps ErrAuthenticationFailed and its
//     message is safe to send to the client: it names the mechanism and
//     the reason class (bad credentials, malformed message), never a
//     password, and does not tell an unknown user from a wrong password
//     (SCRAM answers an unknown user with a made-up salt, so the
//     exchange fails at the same step as a wrong password).
//   - SCRAM is xdg-go/scram's, with one leniency Kafka has too: a
//     client-final nonce that ends with the server's combined nonce (what
//     librdkafka sends) is verified by finalLenient with the RFC 5802
//     formulas on the standard library's HMAC.
//   - Credentials are looked up through the Credentials interface; Cache
//     keeps the users of a UserStore (the metadata store) in memory,
//     refreshed on every metadata change, so lookups on the connection
//     path do no I/O.
package sasl
