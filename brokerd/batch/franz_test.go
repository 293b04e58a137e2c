package batch

// Cross-checks against franz-go: what Build writes must read back with
// kmsg and kgo's decompressor, and what franz-go's producer really sends
// must pass Validate and decode to the records it was given.

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestBuildReadsBackWithKmsg(t *testing.T) {
	for _, tc := range allCodecs {
		t.Run(tc.name, func(t *testing.T) {
			want := sampleRecords()
			opts := BuildOptions{BaseOffset: 5, BaseTimestamp: 1_700_000_000_000, Compression: tc.c, SnappyXerial: tc.xerial,
				ProducerID: 9, ProducerEpoch: 2, BaseSequence: 40}
			b := Build(want, opts)

			var rb kmsg.RecordBatch
			if err := rb.ReadFrom(b); err != nil {
				t.Fatalf("kmsg.RecordBatch.ReadFrom: %v", err)
			}
			if rb.FirstOffset != 5 || rb.Magic != 2 || rb.PartitionLeaderEpoch != -1 ||
				rb.Attributes != int16(tc.c) || rb.LastOffsetDelta != 4 || rb.NumRecords != 5 ||
				rb.FirstTimestamp != opts.BaseTimestamp || rb.MaxTimestamp != opts.BaseTimestamp+1<<40 ||
				rb.ProducerID != 9 || rb.ProducerEpoch != 2 || rb.FirstSequence != 40 ||
				int(rb.Length) != len(b)-LengthPrefix {
				t.Fatalf("kmsg sees %+v", rb)
			}
			h := mustHeader(t, b)
			if uint32(rb.CRC) != h.CRC {
				t.Fatalf("kmsg CRC %08x, ours %08x", uint32(rb.CRC), h.CRC)
			}

			raw, err := kgo.DefaultDecompressor().Decompress(rb.Records, kgo.CompressionCodecType(tc.c))
			if err != nil {
				t.Fatalf("kgo decompress: %v", err)
			}
			got := kmsgRecords(t, raw)
			sameRecords(t, got, want)
		})
	}
}

// kmsgRecords splits raw at each record's length prefix and decodes each
// record with kmsg, independently of this package's decoder.
func kmsgRecords(t *testing.T, raw []byte) []Record {
	t.Helper()
	var out []Record
	for len(raw) > 0 {
		l, n := binary.Varint(raw)
		if n <= 0 || int(l)+n > len(raw) {
			t.Fatalf("bad record length prefix at record %d", len(out))
		}
		var kr kmsg.Record
		if err := kr.ReadFrom(raw[:n+int(l)]); err != nil {
			t.Fatalf("kmsg.Record.ReadFrom record %d: %v", len(out), err)
		}
		r := Record{Attributes: kr.Attributes, TimestampDelta: kr.TimestampDelta64, OffsetDelta: kr.OffsetDelta, Key: kr.Key, Value: kr.Value}
		for _, h := range kr.Headers {
			r.Headers = append(r.Headers, RecordHeader{Key: h.Key, Value: h.Value})
		}
		out = append(out, r)
		raw = raw[n+int(l):]
	}
	return out
}

func TestDecompressFranzGoCompressor(t *testing.T) {
	raw := bytes.Repeat([]byte("franz-go compressed this "), 4000)
	codecs := map[Compression]kgo.CompressionCodec{
		CompressionGzip:   kgo.GzipCompression(),
		CompressionSnappy: kgo.SnappyCompression(),
		CompressionLZ4:    kgo.Lz4Compression(),
		CompressionZstd:   kgo.ZstdCompression(),
	}
	for c, codec := range codecs {
		t.Run(c.String(), func(t *testing.T) {
			comp, err := kgo.DefaultCompressor(codec)
			if err != nil {
				t.Fatal(err)
			}
			out, used := comp.Compress(new(bytes.Buffer), raw)
			if used != kgo.CompressionCodecType(c) {
				t.Fatalf("franz-go used codec %d", used)
			}
			got, err := Decompress(c, out, nil, len(raw))
			if err != nil || !bytes.Equal(got, raw) {
				t.Fatalf("Decompress: %d bytes, %v", len(got), err)
			}
		})
	}
}

// TestFranzGoProducerBatches runs franz-go's real producer against kfake
// and checks every record set it sends, exactly as it went on the wire.
func TestFranzGoProducerBatches(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an in-process fake cluster")
	}
	codecs := map[string]kgo.CompressionCodec{
		"none":   kgo.NoCompression(),
		"gzip":   kgo.GzipCompression(),
		"snappy": kgo.SnappyCompression(),
		"lz4":    kgo.Lz4Compression(),
		"zstd":   kgo.ZstdCompression(),
	}
	for name, codec := range codecs {
		t.Run(name, func(t *testing.T) {
			cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
			if err != nil {
				t.Fatal(err)
			}
			defer cluster.Close()

			var mu sync.Mutex
			var sets [][]byte
			cluster.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
				cluster.KeepControl()
				mu.Lock()
				defer mu.Unlock()
				for _, topic := range req.(*kmsg.ProduceRequest).Topics {
					for _, p := range topic.Partitions {
						sets = append(sets, bytes.Clone(p.Records))
					}
				}
				return nil, nil, false // let kfake handle it
			})

			cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.DefaultProduceTopic("t"),
				kgo.ProducerBatchCompression(codec), kgo.ProducerLinger(50*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()

			var want []*kgo.Record
			for i := range 200 {
				r := &kgo.Record{Value: bytes.Repeat([]byte{byte('a' + i%26)}, 100+i)}
				if i%3 != 0 {
					r.Key = []byte(fmt.Sprintf("key-%d", i))
				}
				if i%5 == 0 {
					r.Headers = []kgo.RecordHeader{{Key: "h", Value: []byte("v")}, {Key: "null"}}
				}
				want = append(want, r)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := cl.ProduceSync(ctx, want...).FirstErr(); err != nil {
				t.Fatalf("produce: %v", err)
			}

			mu.Lock()
			defer mu.Unlock()
			var got []Record
			for _, set := range sets {
				batches, err := Split(set)
				if err != nil {
					t.Fatalf("Split: %v", err)
				}
				for _, b := range batches {
					h, err := Validate(b, ValidateOptions{})
					if err != nil {
						t.Fatalf("Validate of a franz-go batch: %v", err)
					}
					if name != "none" && h.Compression() == CompressionNone {
						t.Logf("franz-go sent a batch uncompressed (compression did not shrink it)")
					}
					if h.Compression() == CompressionSnappy {
						t.Logf("snappy batch, xerial framing: %v", bytes.HasPrefix(b[HeaderSize:], xerialMagic))
					}
					if !h.HasProducerID() {
						t.Errorf("franz-go is idempotent by default, batch has producer id %d", h.ProducerID)
					}
					recs, err := Records(b, &h, DecodeOptions{})
					if err != nil {
						t.Fatalf("Records: %v", err)
					}
					got = append(got, recs...)
				}
			}
			if len(got) != len(want) {
				t.Fatalf("decoded %d records from %d record sets, produced %d", len(got), len(sets), len(want))
			}
			for i, w := range want {
				g := got[i]
				if !bytes.Equal(g.Key, w.Key) || (g.Key == nil) != (w.Key == nil) || !bytes.Equal(g.Value, w.Value) || len(g.Headers) != len(w.Headers) {
					t.Fatalf("record %d: got key %q value len %d headers %d", i, g.Key, len(g.Value), len(g.Headers))
				}
				for j := range w.Headers {
					if g.Headers[j].Key != w.Headers[j].Key || !bytes.Equal(g.Headers[j].Value, w.Headers[j].Value) {
						t.Fatalf("record %d header %d: %+v", i, j, g.Headers[j])
					}
				}
			}
		})
	}
}
