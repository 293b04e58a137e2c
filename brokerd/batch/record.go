package batch

import (
	"fmt"
)

// Record is one decoded record of a v2 batch. Key, Value and header values
// alias the buffer they were decoded from (the batch itself, or the
// decompressed records); nil means null on the wire, an empty non-nil slice
// means zero bytes.
type Record struct {
	Attributes     int8
	TimestampDelta int64 // add Header.BaseTimestamp for the record's timestamp
	OffsetDelta    int32 // add Header.BaseOffset for the record's offset
	Key            []byte
	Value          []byte
	Headers        []RecordHeader
}

// RecordHeader is one user header of a record. Kafka forbids null keys;
// the value may be null (nil).
type RecordHeader struct {
	Key   string
	Value []byte
}

// minRecordSize is the smallest encoding of a record: a one-byte length,
// attributes, and one-byte varints for the timestamp delta, offset delta,
// key length, value length and header count. It bounds how many records a
// buffer can hold, so an untrusted RecordCount never sizes an allocation.
const minRecordSize = 7

// decodeRecord decodes the record at the start of b into r and returns the
// number of bytes it occupies, its length prefix included.
//
// Errors: a malformed, negative or overlong length prefix, or fields that do
// not exactly fill the declared length, wrap ErrCorrupt; fields that are
// well framed but invalid (a length below -1, a negative header count, a
// null header key) wrap ErrInvalidRecord.
//
// With keepHeaders false the headers are checked but not materialised and
// r.Headers is left empty, so the call allocates nothing. With keepHeaders
// true, r.Headers is reused (truncated, then appended to) and each header
// key is copied into a new string.
func decodeRecord(b []byte, r *Record, keepHeaders bool) (int, error) {
	length, n := varint32(b)
	switch {
	case n == 0:
		return 0, fmt.Errorf("%w: record length truncated", ErrCorrupt)
	case n < 0:
		return 0, fmt.Errorf("%w: malformed record length varint", ErrCorrupt)
	case length < 0:
		return 0, fmt.Errorf("%w: negative record length %d", ErrCorrupt, length)
	case int(length) > len(b)-n:
		return 0, fmt.Errorf("%w: record length %d, %d bytes remain", ErrCorrupt, length, len(b)-n)
	}
	body := b[n : n+int(length)]
	d := fieldReader{b: body}

	r.Headers = r.Headers[:0]
	if len(body) < 1 {
		return 0, errShortRecord(length)
	}
	r.Attributes = int8(body[0])
	d.p = 1
	var ok bool
	if r.TimestampDelta, ok = d.varint64(); !ok {
		return 0, d.err(length, "timestamp delta")
	}
	if r.OffsetDelta, ok = d.varint32(); !ok {
		return 0, d.err(length, "offset delta")
	}
	var err error
	if r.Key, err = d.nullableBytes(length, "key"); err != nil {
		return 0, err
	}
	if r.Value, err = d.nullableBytes(length, "value"); err != nil {
		return 0, err
	}
	count, ok := d.varint32()
	if !ok {
		return 0, d.err(length, "header count")
	}
	if count < 0 {
		return 0, fmt.Errorf("%w: negative header count %d", ErrInvalidRecord, count)
	}
	// Each header takes at least two bytes (two one-byte lengths).
	if int(count) > (len(body)-d.p)/2 {
		return 0, fmt.Errorf("%w: %d headers cannot fit in record length %d", ErrCorrupt, count, length)
	}
	for i := int32(0); i < count; i++ {
		kl, ok := d.varint32()
		if !ok {
			return 0, d.err(length, "header key length")
		}
		if kl < 0 {
			return 0, fmt.Errorf("%w: header %d has a null key", ErrInvalidRecord, i)
		}
		if int(kl) > len(body)-d.p {
			return 0, errShortRecord(length)
		}
		key := body[d.p : d.p+int(kl)]
		d.p += int(kl)
		val, err := d.nullableBytes(length, "header value")
		if err != nil {
			return 0, err
		}
		if keepHeaders {
			r.Headers = append(r.Headers, RecordHeader{Key: string(key), Value: val})
		}
	}
	if d.p != len(body) {
		return 0, fmt.Errorf("%w: record length %d, fields use %d", ErrCorrupt, length, d.p)
	}
	return n + int(length), nil
}

func errShortRecord(length int32) error {
	return fmt.Errorf("%w: record length %d too short for its fields", ErrCorrupt, length)
}

// fieldReader walks the fields of one record body.
type fieldReader struct {
	b []byte
	p int
}

func (d *fieldReader) varint32() (int32, bool) {
	v, n := varint32(d.b[d.p:])
	if n <= 0 {
		return 0, false
	}
	d.p += n
	return v, true
}

func (d *fieldReader) varint64() (int64, bool) {
	v, n := varint64(d.b[d.p:])
	if n <= 0 {
		return 0, false
	}
	d.p += n
	return v, true
}

// err reports a varint that is truncated by the record's end or malformed;
// both mean the record's framing is wrong.
func (d *fieldReader) err(length int32, field string) error {
	if _, n := varint64(d.b[d.p:]); n == 0 {
		return fmt.Errorf("%w: record length %d ends inside its %s", ErrCorrupt, length, field)
	}
	return fmt.Errorf("%w: malformed %s varint", ErrCorrupt, field)
}

// nullableBytes reads a varint length and that many bytes; -1 is null. The
// result's capacity is clipped so appending to it cannot overwrite the
// bytes that follow.
func (d *fieldReader) nullableBytes(length int32, field string) ([]byte, error) {
	l, ok := d.varint32()
	if !ok {
		return nil, d.err(length, field+" length")
	}
	switch {
	case l == -1:
		return nil, nil
	case l < -1:
		return nil, fmt.Errorf("%w: %s length %d", ErrInvalidRecord, field, l)
	case int(l) > len(d.b)-d.p:
		return nil, errShortRecord(length)
	}
	v := d.b[d.p : d.p+int(l) : d.p+int(l)]
	d.p += int(l)
	return v, nil
}
