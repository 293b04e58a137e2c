package batch

import (
	"errors"
	"testing"
)

func TestParseHeaderFields(t *testing.T) {
	b := Build(sampleRecords(), BuildOptions{BaseOffset: 77, BaseTimestamp: 1000, ProducerID: 5, ProducerEpoch: 6,
		BaseSequence: 1<<31 - 3, Compression: CompressionLZ4, Transactional: true})
	h := mustHeader(t, b)
	if h.BaseOffset != 77 || h.Size() != len(b) || h.Magic != 2 || h.LastOffset() != 81 || h.Compression() != CompressionLZ4 ||
		!h.IsTransactional() || h.IsControl() || !h.HasProducerID() || h.ProducerEpoch != 6 || h.RecordCount != 5 {
		t.Fatalf("unexpected header %+v", h)
	}
	// Sequence numbers wrap at MaxInt32 to 0, as Kafka's do.
	if got := h.LastSequence(); got != 1 {
		t.Fatalf("LastSequence = %d, want 1 (wrapped)", got)
	}
	if err := CheckCRC(b, &h); err != nil {
		t.Fatal(err)
	}
}

func TestHeaderWithoutProducer(t *testing.T) {
	h := mustHeader(t, Build(sampleRecords(), BuildOptions{}))
	if h.HasProducerID() || h.ProducerID != -1 || h.ProducerEpoch != -1 || h.BaseSequence != -1 || h.LastSequence() != -1 {
		t.Fatalf("non-idempotent batch header %+v", h)
	}
}

func TestCheckCRCHandMadeHeader(t *testing.T) {
	b := Build(sampleRecords(), BuildOptions{})
	if err := CheckCRC(b, &Header{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("CheckCRC with a zero Header: %v, want ErrCorrupt", err)
	}
	h := mustHeader(t, b)
	if err := CheckCRC(b[:len(b)-1], &h); !errors.Is(err, ErrTruncated) {
		t.Fatalf("CheckCRC on a short buffer: %v, want ErrTruncated", err)
	}
}

func TestCompressionString(t *testing.T) {
	for c, want := range map[Compression]string{CompressionNone: "none", CompressionGzip: "gzip", CompressionSnappy: "snappy",
		CompressionLZ4: "lz4", CompressionZstd: "zstd", 6: "unknown(6)"} {
		if c.String() != want {
			t.Errorf("%d.String() = %q, want %q", c, c.String(), want)
		}
	}
}
