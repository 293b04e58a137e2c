// Package brokerproc owns running Kafki as operating system processes for
// the tools and tests around it: it spawns a brokerd (Spawn) or a local
// cluster through kafki-dev-cluster (StartDevCluster), defines the
// machine-readable line kafki-dev-cluster prints once its brokers are ready
// (Ready), and samples a process's memory and CPU from /proc (RSSSampler,
// ReadProcMemory, ReadProcCPU). It also holds the process plumbing every
// broker harness shares: free loopback ports (FreeLoopbackAddrs), waiting
// until a port accepts connections (WaitListening), and the tail of a
// child's output kept for error messages (TailBuffer), and building the
// brokerd that process-level tests run (BuildBrokerd, FindBrokerd).
//
// It lives under loadtest/ because the load generator, a pure Kafka
// client, may import nothing under brokerd/; brokerd's test harnesses
// (brokerd/e2e, brokerd/compat, brokerd/internal/clusterproc) and
// kafki-dev-cluster import it from there. It imports no Kafki package.
//
// Invariants:
//
//  1. Every wait is bounded: a broker's start (the caller's timeout), its
//     stop (SIGTERM, then SIGKILL after a grace period), a killed
//     process's reaping.
//  2. A spawned broker is always stopped and its temporary data directory
//     removed, including when its start fails; on Linux the kernel kills
//     it if the spawning process dies.
//  3. A process that exits early is reported with its exit status and the
//     last line it printed.
//  4. No package-level mutable state.
package brokerproc
