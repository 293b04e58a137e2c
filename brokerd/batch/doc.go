// Package batch reads, checks and (for tests) writes Kafka v2 record
// batches: the unit a producer sends, the broker stores and a consumer
// fetches, byte for byte.
//
// Invariants and obligations:
//
//  1. Every input is untrusted network or disk bytes. No function panics on
//     any input; every failure wraps one sentinel (see errors.go) that the
//     protocol layer maps to a Kafka error code.
//  2. Nothing is copied unless it must be. Split and Iter return
//     sub-slices of the request; records returned by Records alias the batch
//     or a fresh decompression buffer; records passed to ForEachRecord's
//     callback alias a pooled buffer and are valid only during the call.
//  3. Untrusted counts never size an allocation: RecordCount and header
//     counts are checked against the bytes that could hold them, and
//     decompression stops at a caller-given limit (ErrTooLarge), so a
//     decompression bomb costs at most that limit in memory.
//  4. Validate is what the leader runs on every produced batch before it
//     assigns offsets; it reads the batch, never writes it. Rewriting the
//     base offset and leader epoch (SetBaseOffset, SetPartitionLeaderEpoch)
//     does not disturb the CRC, which starts at the attributes.
//  5. The only package-level state is sync.Pools of decoders and scratch
//     buffers, reset before each use, so no call can observe another.
//
// Build (testbuild.go) encodes batches exactly as franz-go's producer
// does; it is exported for other packages' tests.
package batch
