// Package server speaks the Kafka wire protocol: it accepts connections,
// frames requests, decodes them with kmsg, dispatches them to one handler
// per API (files named by API key, e.g. 00_produce.go, each stating the
// versions it serves) and writes responses.
//
// Invariants:
//   - Responses on a connection go out in request order (Kafka clients rely
//     on it): each connection has one reader goroutine that only frames
//     requests, and one processor goroutine that handles them one at a time
//     and writes the replies.
//   - A frame that cannot be trusted (negative or oversized length, a
//     header that does not parse, a body kmsg cannot decode) closes only
//     that connection, with a logged reason. A well-framed request for an
//     API or version Kafki does not serve gets UNSUPPORTED_VERSION, not a
//     closed connection.
//   - Handlers never panic on client input; a panic in a handler is
//     recovered, logged and closes that connection only.
//   - The set of versions advertised by ApiVersions is exactly the set the
//     handlers registered (apis.go).
//   - Every connection has an auth.Session, written only by its processor
//     goroutine; every handler consults the server's auth.Authorizer before
//     acting on a resource, at the point Kafka's KafkaApis does, with one
//     Authorize call per request (authorize.go); each handler's file says
//     what it asks and which error code a denial gets.
//   - A connection belongs to one Listener (ServeListener: name, security
//     protocol, advertised address, TLS), which its session names. On a
//     TLS listener no request is read before the handshake completes,
//     within the listener's deadline; a failed handshake (a plaintext
//     client, a refused certificate) closes the connection without a
//     response. Addresses in responses (Metadata, FindCoordinator,
//     DescribeCluster) are every broker's on the connection's listener.
//   - On a SASL_PLAINTEXT or SASL_SSL listener nothing but ApiVersions,
//     SaslHandshake and SaslAuthenticate is handled before the connection
//     authenticated, nor after its session expired (sasl.go); a failed
//     authentication is answered, then closes the connection.
//   - A server gets its settings and components at construction (Options);
//     nothing is set after New.
package server
