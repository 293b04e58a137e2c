// Package e2e holds end-to-end tests that run brokerd as a real operating
// system process: built once per test run from ./brokerd/cmd/brokerd,
// started on a free loopback port with a fresh data directory, driven by
// real clients (franz-go's kgo and kadm, and the librdkafka-based kcat CLI),
// killed with SIGKILL or stopped with SIGTERM, and restarted on the same data.
//
// Invariants the tests rely on and check:
//   - A broker that reports itself ready accepts TCP connections on its
//     listener; readiness is awaited by polling with a deadline, never by
//     sleeping.
//   - Each test owns its broker and data directory; nothing is shared
//     between tests except the compiled binary.
//   - A broker's whole stderr (every run) is kept and shown when its test
//     fails; a panic or data race report in it fails the test.
//
// The package has no non-test code besides this file. Environment knobs:
// KAFKI_E2E_RACE=1 builds the broker with the race detector;
// KAFKI_E2E_BROKERD=/path/to/brokerd tests that binary instead of building
// one; KAFKI_E2E_SEED replays the crash test's random kill schedule.
package e2e
