// Package segtest writes sealed log segments for tiering's tests and
// benchmarks, in brokerd/storage's on-disk format: real v2 batches
// (batch.Build) back to back in %020d.log, a sparse offset index (8-byte
// entries: relative offset, position), a time index (12-byte entries:
// max timestamp so far, relative offset, finalized at the seal) and a
// producer snapshot stand-in.
//
// It is a test helper: its output is meant to be compared byte for byte
// with what the tier returns, so it is deterministic for a given Spec.
package segtest
