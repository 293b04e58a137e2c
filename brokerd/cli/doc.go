// Package cli implements kafki, Kafki's console tool: the equivalent of
// Kafka's kafka-topics.sh, kafka-console-producer.sh and
// kafka-console-consumer.sh. It speaks the Kafka protocol through franz-go
// (kgo for produce and consume, kadm for admin requests), so it works
// against any Kafka-compatible broker, not only Kafki.
//
// The command binary (brokerd/cmd/kafki) is a thin shell around [Main]; all
// behaviour lives here so it can be tested in-process against a real broker.
//
// Invariants the package keeps:
//
//  1. Exit codes: 0 on success (and on --help), 1 for a failure at run time
//     (broker unreachable, unknown topic, a produce that was not
//     acknowledged), 2 for a usage error (unknown flag, invalid flag value).
//     Usage errors are detected before any connection is attempted.
//  2. Every failure is reported as exactly one line on stderr, prefixed with
//     the command ("kafki produce: ..."); no stack traces, no retries logged.
//     (Running kafki or "kafki topics" with no command also prints the
//     overview of commands before that line.)
//  3. Nothing waits on the network without a bound: admin commands and the
//     initial connection of produce/consume are limited by --timeout, so an
//     unreachable bootstrap server fails with a message naming the address.
//  4. The producer exits 0 only after every record read from stdin has been
//     acknowledged by the broker with the requested acks.
//  5. The consumer prints records of one partition in offset order, and
//     never prints more than --max-messages records.
//  6. No package-level mutable state: the environment (stdio, environment
//     variables) is passed in through [Env], so commands can run
//     concurrently in tests.
package cli
