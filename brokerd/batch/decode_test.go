package batch

import (
	"bytes"
	"errors"
	"testing"
)

func TestRecordsRoundTripEveryCodec(t *testing.T) {
	for _, tc := range allCodecs {
		t.Run(tc.name, func(t *testing.T) {
			want := sampleRecords()
			b := Build(want, BuildOptions{BaseOffset: 10, BaseTimestamp: 1000, Compression: tc.c, SnappyXerial: tc.xerial})
			h := mustHeader(t, b)
			if h.Compression() != tc.c {
				t.Fatalf("codec %v, want %v", h.Compression(), tc.c)
			}
			got, err := Records(b, &h, DecodeOptions{})
			if err != nil {
				t.Fatalf("Records: %v", err)
			}
			sameRecords(t, got, want)
		})
	}
}

func TestRecordsOutliveTheirBatchBuffer(t *testing.T) {
	// Records decoded from a compressed batch must not alias a pooled
	// buffer that a later decode reuses.
	b1 := Build(manyRecords(20, 50), BuildOptions{Compression: CompressionZstd})
	h1 := mustHeader(t, b1)
	got, err := Records(b1, &h1, DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b2 := Build(manyRecords(20, 50)[5:], BuildOptions{Compression: CompressionZstd})
	h2 := mustHeader(t, b2)
	for range 3 {
		if err := ForEachRecord(b2, &h2, DecodeOptions{}, func(*Record) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	sameRecords(t, got, manyRecords(20, 50))
}

func TestForEachRecordVisitsInOrder(t *testing.T) {
	for _, tc := range allCodecs {
		t.Run(tc.name, func(t *testing.T) {
			want := sampleRecords()
			b := Build(want, BuildOptions{BaseTimestamp: 1000, Compression: tc.c, SnappyXerial: tc.xerial})
			h := mustHeader(t, b)
			var got []Record
			err := ForEachRecord(b, &h, DecodeOptions{}, func(r *Record) error {
				c := *r
				c.Key = bytes.Clone(r.Key) // keeps nil distinct from empty
				c.Headers = append([]RecordHeader(nil), r.Headers...)
				got = append(got, c)
				return nil
			})
			if err != nil {
				t.Fatalf("ForEachRecord: %v", err)
			}
			if len(got) != len(want) {
				t.Fatalf("visited %d records, want %d", len(got), len(want))
			}
			for i := range got {
				sameBytes(t, "key", got[i].Key, want[i].Key)
				if got[i].OffsetDelta != int32(i) {
					t.Errorf("record %d offset delta %d", i, got[i].OffsetDelta)
				}
				if len(got[i].Headers) != len(want[i].Headers) {
					t.Errorf("record %d has %d headers, want %d", i, len(got[i].Headers), len(want[i].Headers))
				}
			}
		})
	}
}

// TestForEachRecordStopsEarly is the storage layer's use: find the first
// record at or after a timestamp and stop there.
func TestForEachRecordStopsEarly(t *testing.T) {
	recs := manyRecords(50, 20) // timestamp deltas 0..49
	b := Build(recs, BuildOptions{BaseTimestamp: 1_000, Compression: CompressionLZ4})
	h := mustHeader(t, b)
	errFound := errors.New("found")
	var found int32 = -1
	visited := 0
	err := ForEachRecord(b, &h, DecodeOptions{}, func(r *Record) error {
		visited++
		if h.BaseTimestamp+r.TimestampDelta >= 1_030 {
			found = r.OffsetDelta
			return errFound
		}
		return nil
	})
	if err != errFound {
		t.Fatalf("ForEachRecord returned %v, want fn's own error unwrapped", err)
	}
	if found != 30 || visited != 31 {
		t.Fatalf("found offset delta %d after %d visits, want 30 after 31", found, visited)
	}
}

func TestRecordsRejectsShortBuffer(t *testing.T) {
	b := Build(sampleRecords(), BuildOptions{})
	h := mustHeader(t, b)
	if _, err := Records(b[:len(b)-1], &h, DecodeOptions{}); !errors.Is(err, ErrTruncated) {
		t.Fatalf("Records on a short buffer: %v, want ErrTruncated", err)
	}
}
