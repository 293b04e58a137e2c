package batch

import (
	"encoding/binary"
	"fmt"
)

// Split cuts a produce request's record set into its batches, each framed
// by its length field. The returned slices alias records. It checks only
// framing: every batch must be complete and at least a header long; magic,
// CRC and contents are Validate's job. An empty record set is an error
// (ErrCorrupt), a trailing partial batch is ErrTruncated.
//
// Note that Kafka requires produce requests v3+ to carry exactly one batch
// per partition; enforcing that is the protocol layer's choice.
func Split(records []byte) ([][]byte, error) {
	if len(records) == 0 {
		return nil, fmt.Errorf("%w: empty record set", ErrCorrupt)
	}
	var out [][]byte
	it := NewIter(records)
	for it.Next() {
		out = append(out, it.Batch())
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// Iter walks the batches of a record set without allocating:
//
//	it := batch.NewIter(records)
//	for it.Next() {
//		b := it.Batch()
//		...
//	}
//	if err := it.Err(); err != nil { ... }
//
// Unlike Split, an empty record set simply yields no batches.
type Iter struct {
	rest  []byte
	cur   []byte
	at    int // offset of rest within the original record set
	err   error
	index int
}

// NewIter returns an iterator over the batches of records.
func NewIter(records []byte) Iter { return Iter{rest: records} }

// Next advances to the next batch and reports whether there is one. It
// returns false at the end or on a framing error; check Err.
func (it *Iter) Next() bool {
	it.cur = nil
	if it.err != nil || len(it.rest) == 0 {
		return false
	}
	if len(it.rest) < HeaderSize {
		it.err = fmt.Errorf("%w: batch %d at byte %d: %d bytes, header needs %d", ErrTruncated, it.index, it.at, len(it.rest), HeaderSize)
		return false
	}
	length := int32(binary.BigEndian.Uint32(it.rest[offLength:]))
	if length < HeaderSize-LengthPrefix {
		it.err = fmt.Errorf("%w: batch %d at byte %d: length %d below header size", ErrCorrupt, it.index, it.at, length)
		return false
	}
	size := LengthPrefix + int64(length)
	if size > int64(len(it.rest)) {
		it.err = fmt.Errorf("%w: batch %d at byte %d: length %d, %d bytes present", ErrTruncated, it.index, it.at, length, len(it.rest)-LengthPrefix)
		return false
	}
	it.cur = it.rest[:size:size]
	it.rest = it.rest[size:]
	it.at += int(size)
	it.index++
	return true
}

// Batch returns the batch Next advanced to, capacity clipped to its length.
func (it *Iter) Batch() []byte { return it.cur }

// Err returns the framing error that stopped the iteration, if any.
func (it *Iter) Err() error { return it.err }
