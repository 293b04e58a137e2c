package batch

import (
	"bytes"
	"fmt"
	"testing"
)

func filterInput(n int, c Compression) ([]Record, []byte) {
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = Record{Key: []byte(fmt.Sprintf("k%d", i%3)), Value: []byte(fmt.Sprintf("value-%d", i)), TimestampDelta: int64(i * 10)}
		if i == n-2 {
			recs[i].Value = nil // a tombstone
		}
		recs[i].Headers = []RecordHeader{{Key: "h", Value: []byte{byte(i)}}}
	}
	b := Build(recs, BuildOptions{BaseOffset: 1000, BaseTimestamp: 5000, ProducerID: 9, ProducerEpoch: 3, BaseSequence: 40, Compression: c})
	return recs, b
}

func TestFilterKeepsHeaderFieldsAndRecords(t *testing.T) {
	for _, c := range []Compression{CompressionNone, CompressionGzip, CompressionSnappy, CompressionLZ4, CompressionZstd} {
		t.Run(c.String(), func(t *testing.T) {
			in, b := filterInput(8, c)
			h, err := ParseHeader(b)
			if err != nil {
				t.Fatal(err)
			}
			keepOdd := func(r *Record) bool { return r.OffsetDelta%2 == 1 }
			out, res, err := Filter(nil, b, &h, FilterOptions{DeleteHorizon: -1}, keepOdd)
			if err != nil || res.Kept != 4 || res.Removed != 4 || !res.Changed || res.Tombstones != 0 {
				t.Fatalf("Filter: %+v, %v", res, err)
			}
			nh, err := Validate(out, ValidateOptions{})
			if err != nil {
				// Validate wants contiguous deltas; check framing and CRC.
				if nh, err = ParseHeader(out); err != nil {
					t.Fatal(err)
				}
				if err := CheckCRC(out, &nh); err != nil {
					t.Fatal(err)
				}
			}
			if nh.BaseOffset != h.BaseOffset || nh.LastOffsetDelta != h.LastOffsetDelta || nh.ProducerID != 9 ||
				nh.ProducerEpoch != 3 || nh.BaseSequence != 40 || nh.Compression() != c || nh.RecordCount != 4 ||
				nh.MaxTimestamp != h.BaseTimestamp+in[7].TimestampDelta || nh.BaseTimestamp != h.BaseTimestamp {
				t.Fatalf("header %+v from %+v", nh, h)
			}
			got, err := Records(out, &nh, DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range got {
				want := in[2*i+1]
				if r.OffsetDelta != int32(2*i+1) || !bytes.Equal(r.Key, want.Key) || !bytes.Equal(r.Value, want.Value) ||
					r.TimestampDelta != want.TimestampDelta || len(r.Headers) != 1 || r.Headers[0].Value[0] != byte(2*i+1) {
					t.Fatalf("record %d: %+v, want %+v", i, r, want)
				}
			}
			// Keeping everything returns the input unchanged.
			same, res, err := Filter(nil, b, &h, FilterOptions{DeleteHorizon: -1}, func(*Record) bool { return true })
			if err != nil || res.Changed || !bytes.Equal(same, b) {
				t.Fatalf("keep all: changed %v, %v", res.Changed, err)
			}
			// Keeping none appends nothing; AppendEmpty keeps the producer.
			none, res, err := Filter([]byte("x"), b, &h, FilterOptions{DeleteHorizon: -1}, func(*Record) bool { return false })
			if err != nil || res.Kept != 0 || string(none) != "x" {
				t.Fatalf("keep none: %q %+v %v", none, res, err)
			}
			empty := AppendEmpty(nil, b, &h)
			eh, err := ParseHeader(empty)
			if err != nil || CheckCRC(empty, &eh) != nil || eh.RecordCount != 0 || eh.LastOffset() != h.LastOffset() ||
				eh.BaseSequence != 40 || eh.LastSequence() != h.LastSequence() || len(empty) != HeaderSize {
				t.Fatalf("empty batch %+v: %v", eh, err)
			}
		})
	}
}

func TestFilterStampsDeleteHorizonKeepingTimestamps(t *testing.T) {
	in, b := filterInput(6, CompressionLZ4)
	h, _ := ParseHeader(b)
	out, res, err := Filter(nil, b, &h, FilterOptions{DeleteHorizon: 99_000}, func(*Record) bool { return true })
	if err != nil || !res.Changed || res.Tombstones != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	nh, _ := ParseHeader(out)
	if hz, ok := nh.DeleteHorizon(); !ok || hz != 99_000 || CheckCRC(out, &nh) != nil {
		t.Fatalf("horizon %d %v", hz, ok)
	}
	got, err := Records(out, &nh, DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range got {
		if nh.BaseTimestamp+r.TimestampDelta != h.BaseTimestamp+in[i].TimestampDelta {
			t.Fatalf("record %d timestamp moved: %d, was %d", i, nh.BaseTimestamp+r.TimestampDelta, h.BaseTimestamp+in[i].TimestampDelta)
		}
	}
	// An already stamped batch keeps its horizon.
	again, res, err := Filter(nil, out, &nh, FilterOptions{DeleteHorizon: 200_000}, func(*Record) bool { return true })
	if err != nil || res.Changed || !bytes.Equal(again, out) {
		t.Fatalf("restamped: %+v %v", res, err)
	}
}

// FuzzFilter: whatever the bytes (they come from disk), Filter returns an
// error or a batch whose header parses, whose CRC holds and whose records
// decode.
func FuzzFilter(f *testing.F) {
	for _, c := range []Compression{CompressionNone, CompressionGzip, CompressionZstd} {
		_, b := filterInput(5, c)
		f.Add(b, uint8(0b10101))
	}
	f.Fuzz(func(t *testing.T, b []byte, mask uint8) {
		h, err := ParseHeader(b)
		if err != nil {
			return
		}
		out, res, err := Filter(nil, b, &h, FilterOptions{DeleteHorizon: 1, MaxDecompressedBytes: 1 << 20}, func(r *Record) bool {
			return mask&(1<<(uint(r.OffsetDelta)%8)) != 0
		})
		if err != nil || res.Kept == 0 {
			return
		}
		nh, err := ParseHeader(out)
		if err != nil {
			t.Fatalf("output header: %v", err)
		}
		if err := CheckCRC(out, &nh); err != nil && res.Changed {
			t.Fatalf("output CRC: %v", err)
		}
		if _, err := Records(out, &nh, DecodeOptions{}); err != nil {
			t.Fatalf("output records: %v", err)
		}
	})
}
