// Package audit checks the remote tier of a partition against its
// metadata, for `kafki tier verify` and `kafki tier describe`: every
// object a COPY_FINISHED record names must exist with the recorded size
// (and, when asked, the recorded CRC32C), and objects no record names are
// reported as orphans.
//
// # Invariants
//
//   - Audit only reads: it never deletes or rewrites anything (the
//     sweeper does that), so it is safe on a live partition. A record or
//     object that changes while the audit runs may be reported; running
//     it again tells a transient finding from a real one.
package audit
