// Package clusterproc runs a real multi-broker Kafki cluster as operating
// system processes: one brokerd per node id 1..N, all sharing one DynamoDB
// metadata table (a moto_server the harness starts, or an endpoint given to
// it). Tests use it to crash, pause and restart brokers, and (with
// Options.NetNS) to cut them off the network; the
// kafki-dev-cluster command uses it to give developers a local cluster.
// What it shares with every other broker harness (a started process and
// its signals, free loopback ports, waiting for a port, the tail of a
// broker's output) is package loadtest/brokerproc's; this package adds the
// cluster: node ids, DynamoDB, environment, restarts and network faults.
//
// The moto_server the harness starts is single-threaded
// (mototest.StartSerialized): threaded moto can let two concurrent
// conditional writes to one item both succeed, and brokers in separate
// processes race exactly such writes for their leases.
//
// # Invariants
//
//   - Start returns only when every broker's Kafka port accepts TCP
//     connections (polled against a deadline, never a fixed sleep), or
//     with an error after stopping whatever it had started.
//   - A broker keeps its node id, listen address and data directory for
//     the life of the Cluster: Restart reuses them, so clients and peers
//     find it where they left it and it recovers its own log.
//   - Each broker runs in its own process group: signals sent to a test
//     (Ctrl-C in a terminal) do not reach brokers, and the harness signals
//     the whole group so nothing a broker forks survives it. On Linux a
//     broker is also killed if the process that started it dies.
//   - A broker's environment is the parent's without any KAFKI_* or AWS_*
//     variable, plus what the harness sets (and then Options.Env, which
//     wins): a developer's shell cannot change what a test configures,
//     while PATH, HOME and the like are kept.
//   - Close stops every broker (SIGTERM, a grace period, then SIGKILL),
//     then the moto_server it started, and reports brokers that exited
//     without being asked to. It is safe to call more than once.
//   - With Options.NetNS each broker runs (through `ip netns exec`, which
//     execs it: the pid and process group signalled are the broker's) in a
//     network namespace of its own, joined to the root namespace by a veth
//     into a bridge the harness creates. The harness creates and deletes
//     only objects named with its prefixes and a random tag, never touches
//     the host's own interfaces or routes, and removes what it created in
//     Close; objects of a harness that died (its pid is in the bridge's
//     alias) are swept by the next Start.
//   - Network faults are derived state: the path between two brokers is
//     blackholed iff either is cut (CutFromPeers), so healing one broker
//     never reopens a path to another that is still cut; an isolated
//     broker's veth is down. Both outlive a broker's Restart.
//   - No package-level mutable state; a Cluster's methods may be called
//     from any goroutine.
package clusterproc
