// Package tlsconf owns the broker's TLS material and what it means: the
// certificate and key it presents, the CA bundle it trusts, client
// certificate policy (Kafka's ssl.client.auth), the principal of a client
// certificate (its subject in RFC 2253 form, mapped by Kafka's
// ssl.principal.mapping.rules), and the client side used between brokers.
//
// # Invariants
//
//   - TLS 1.2 is the minimum on every config it returns; TLS 1.3 is
//     preferred (crypto/tls negotiates the highest both sides support).
//   - The files are the source of truth. Every handshake (server side:
//     GetConfigForClient; client side: GetClientCertificate and
//     VerifyConnection) stats them and, when a file's size or modification
//     time changed, reads them again. A set of files that does not load
//     (a rotation half done: new certificate, old key) leaves the previous
//     material in use and is retried at the next handshake, so a rotation
//     never takes the listener down. Connections already established keep
//     the session they negotiated: nothing is ever closed by a reload.
//   - Material is immutable once loaded; a reload swaps a pointer under a
//     mutex, so handshakes on many connections share it safely.
//   - No private key or password is ever logged or put in an error.
package tlsconf
