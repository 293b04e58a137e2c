package batch

import (
	"bytes"
	"fmt"
	"testing"
)

// allCodecs lists every codec variant Build can produce, snappy in both
// framings.
var allCodecs = []struct {
	name   string
	c      Compression
	xerial bool
}{
	{"none", CompressionNone, false},
	{"gzip", CompressionGzip, false},
	{"snappy", CompressionSnappy, false},
	{"snappy-xerial", CompressionSnappy, true},
	{"lz4", CompressionLZ4, false},
	{"zstd", CompressionZstd, false},
}

// sampleRecords covers null and empty keys and values, headers with null
// values, and negative, zero and large timestamp deltas.
func sampleRecords() []Record {
	return []Record{
		{Key: []byte("k0"), Value: []byte("v0")},
		{Key: nil, Value: []byte("value with a null key"), TimestampDelta: 5},
		{Key: []byte{}, Value: nil, TimestampDelta: -3},
		{Key: []byte("k3"), Value: bytes.Repeat([]byte("x"), 300), TimestampDelta: 1 << 40,
			Headers: []RecordHeader{{Key: "h1", Value: []byte("hv")}, {Key: "", Value: nil}}},
		{Attributes: 0, Key: []byte("k4"), Value: []byte{}, TimestampDelta: 7},
	}
}

// manyRecords returns n records of valueSize-byte values, compressible
// like typical JSON-ish payloads.
func manyRecords(n, valueSize int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		v := []byte(fmt.Sprintf("{\"id\":%d,\"payload\":\"", i))
		for len(v) < valueSize-2 {
			v = append(v, byte('a'+(i+len(v))%26))
		}
		v = append(v, '"', '}')
		recs[i] = Record{Key: []byte(fmt.Sprintf("key-%d", i)), Value: v[:valueSize], TimestampDelta: int64(i)}
	}
	return recs
}

// sameRecords fails unless got matches want field by field, with offset
// deltas 0..n-1 and null distinguished from empty.
func sameRecords(t *testing.T, got, want []Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := &got[i], &want[i]
		if g.OffsetDelta != int32(i) || g.TimestampDelta != w.TimestampDelta || g.Attributes != w.Attributes {
			t.Errorf("record %d: got delta %d ts %d attrs %d, want %d %d %d", i, g.OffsetDelta, g.TimestampDelta, g.Attributes, i, w.TimestampDelta, w.Attributes)
		}
		sameBytes(t, fmt.Sprintf("record %d key", i), g.Key, w.Key)
		sameBytes(t, fmt.Sprintf("record %d value", i), g.Value, w.Value)
		if len(g.Headers) != len(w.Headers) {
			t.Fatalf("record %d: %d headers, want %d", i, len(g.Headers), len(w.Headers))
		}
		for j := range w.Headers {
			if g.Headers[j].Key != w.Headers[j].Key {
				t.Errorf("record %d header %d key %q, want %q", i, j, g.Headers[j].Key, w.Headers[j].Key)
			}
			sameBytes(t, fmt.Sprintf("record %d header %d value", i, j), g.Headers[j].Value, w.Headers[j].Value)
		}
	}
}

func sameBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if (got == nil) != (want == nil) || !bytes.Equal(got, want) {
		t.Errorf("%s = %q (nil %v), want %q (nil %v)", what, got, got == nil, want, want == nil)
	}
}

func mustHeader(t testing.TB, b []byte) Header {
	t.Helper()
	h, err := ParseHeader(b)
	if err != nil {
		t.Fatalf("ParseHeader: %v", err)
	}
	return h
}
