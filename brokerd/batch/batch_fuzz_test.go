package batch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// fuzzLimit keeps decompression bombs cheap while fuzzing.
const fuzzLimit = 1 << 20

func seedBatches() [][]byte {
	var seeds [][]byte
	for _, tc := range allCodecs {
		seeds = append(seeds,
			Build(sampleRecords(), BuildOptions{BaseTimestamp: 1000, Compression: tc.c, SnappyXerial: tc.xerial}),
			Build(manyRecords(3, 40), BuildOptions{Compression: tc.c, SnappyXerial: tc.xerial, ProducerID: 3, Transactional: true}),
		)
	}
	good := seeds[0]
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 1
	seeds = append(seeds,
		good[:HeaderSize],                   // header only, length past the end
		flipped,                             // CRC mismatch
		withRecords(rawRecords(0, 2), 2, 1), // offset deltas out of order
		withRecords(rawRecord(-5, 0, 0, 0, 1, 1, 0), 1, 0),                                              // negative record length
		withRecords(append(rawRecords(0), 0xff), 1, 0),                                                  // trailing garbage
		Build([]Record{{Value: make([]byte, 2*fuzzLimit)}}, BuildOptions{Compression: CompressionGzip}), // bomb
	)
	return seeds
}

// FuzzValidate checks, on arbitrary bytes: nothing panics; a batch that
// Validate accepts decodes with Records and ForEachRecord to exactly
// RecordCount records with offset deltas 0..n-1, and validates again to
// the same header. Record decoding is also run without the CRC gate, so
// the fuzzer reaches it with random record bytes.
func FuzzValidate(f *testing.F) {
	for _, s := range seedBatches() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		opts := ValidateOptions{MaxDecompressedBytes: fuzzLimit}
		h, err := Validate(b, opts)
		checkAccepted(t, b, h, err, opts)
		if ph, perr := ParseHeader(b); perr == nil {
			// Not CRC-checked: only "no panic" holds here.
			_, _ = Records(b, &ph, DecodeOptions{MaxDecompressedBytes: fuzzLimit})
		}
	})
}

// FuzzRecords wraps arbitrary record bytes in a batch with a correct CRC,
// so every input reaches the record decoder through Validate.
func FuzzRecords(f *testing.F) {
	f.Add(rawRecords(0, 1, 2), int32(3), uint8(0))
	f.Add(rawRecord(8, 0, 0, 0, 1, 1, 2, 1, 1), int32(1), uint8(0))
	f.Add(compressForTest(CompressionSnappy, true, rawRecords(0, 1)), int32(2), uint8(CompressionSnappy))
	f.Add(compressForTest(CompressionZstd, false, rawRecords(0)), int32(1), uint8(CompressionZstd))
	f.Add(compressForTest(CompressionLZ4, false, rawRecords(0, 1)), int32(2), uint8(CompressionLZ4))
	f.Add(compressForTest(CompressionGzip, false, rawRecords(0, 1)), int32(2), uint8(CompressionGzip))
	f.Fuzz(func(t *testing.T, raw []byte, count int32, codec uint8) {
		b := withRecords(raw, count, count-1)
		b[offAttributes+1] = codec & AttrCompressionMask
		refit(b)
		opts := ValidateOptions{MaxDecompressedBytes: fuzzLimit}
		h, err := Validate(b, opts)
		checkAccepted(t, b, h, err, opts)
	})
}

func checkAccepted(t *testing.T, b []byte, h Header, err error, opts ValidateOptions) {
	t.Helper()
	if err != nil {
		if !knownError(err) {
			t.Fatalf("Validate error wraps no sentinel: %v", err)
		}
		return
	}
	dopts := DecodeOptions{MaxDecompressedBytes: opts.MaxDecompressedBytes}
	recs, err := Records(b, &h, dopts)
	if err != nil {
		t.Fatalf("Validate accepted, Records failed: %v", err)
	}
	if len(recs) != int(h.RecordCount) {
		t.Fatalf("Validate accepted %d records, Records returned %d", h.RecordCount, len(recs))
	}
	i := int32(0)
	err = ForEachRecord(b, &h, dopts, func(r *Record) error {
		if r.OffsetDelta != i || !bytes.Equal(r.Value, recs[i].Value) || len(r.Headers) != len(recs[i].Headers) {
			t.Fatalf("ForEachRecord record %d disagrees with Records", i)
		}
		i++
		return nil
	})
	if err != nil || i != h.RecordCount {
		t.Fatalf("ForEachRecord visited %d of %d: %v", i, h.RecordCount, err)
	}
	h2, err := Validate(b, opts)
	if err != nil || h2 != h {
		t.Fatalf("re-validation: %+v, %v; first %+v", h2, err, h)
	}
}

func knownError(err error) bool {
	for _, s := range []error{ErrTruncated, ErrCorrupt, ErrMagic, ErrInvalidRecord, ErrUnsupportedCompression, ErrTooLarge} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// FuzzSplit checks that Split never panics, that the batches it returns
// tile the input exactly, each framed by its own length field, and that
// Iter agrees with it.
func FuzzSplit(f *testing.F) {
	seeds := seedBatches()
	f.Add([]byte{})
	f.Add(bytes.Join(seeds[:4], nil))
	for _, s := range seeds {
		f.Add(s)
		f.Add(append(bytes.Clone(s), s[:HeaderSize/2]...))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		batches, err := Split(in)
		it := NewIter(in)
		n := 0
		for it.Next() {
			n++
		}
		if err != nil {
			if !knownError(err) || batches != nil {
				t.Fatalf("Split failed with %d batches, err %v", len(batches), err)
			}
			if len(in) > 0 && it.Err() == nil {
				t.Fatalf("Split failed (%v) but Iter did not", err)
			}
			return
		}
		if it.Err() != nil || n != len(batches) {
			t.Fatalf("Iter: %d batches, %v; Split %d", n, it.Err(), len(batches))
		}
		var total []byte
		for _, b := range batches {
			if len(b) < HeaderSize || int(binary.BigEndian.Uint32(b[offLength:]))+LengthPrefix != len(b) {
				t.Fatalf("batch of %d bytes does not match its length field", len(b))
			}
			total = append(total, b...)
		}
		if !bytes.Equal(total, in) {
			t.Fatal("batches do not tile the input")
		}
	})
}
