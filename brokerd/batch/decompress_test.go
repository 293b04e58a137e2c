package batch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
)

func TestDecompressRoundTripAppends(t *testing.T) {
	raw := bytes.Repeat([]byte("kafki decompression round trip "), 5000) // > one xerial block
	for _, tc := range allCodecs {
		t.Run(tc.name, func(t *testing.T) {
			comp := compressForTest(tc.c, tc.xerial, raw)
			prefix := []byte("prefix")
			out, err := Decompress(tc.c, comp, bytes.Clone(prefix), len(raw))
			if err != nil {
				t.Fatalf("Decompress: %v", err)
			}
			if !bytes.HasPrefix(out, prefix) || !bytes.Equal(out[len(prefix):], raw) {
				t.Fatalf("Decompress returned %d bytes, want prefix + %d", len(out), len(raw))
			}
		})
	}
}

// TestDecompressLimitBoundary checks the limit is exact: len(raw) passes,
// one byte less fails with ErrTooLarge.
func TestDecompressLimitBoundary(t *testing.T) {
	raw := bytes.Repeat([]byte{'z'}, 100_000)
	for _, tc := range allCodecs {
		t.Run(tc.name, func(t *testing.T) {
			comp := compressForTest(tc.c, tc.xerial, raw)
			if _, err := Decompress(tc.c, comp, nil, len(raw)); err != nil {
				t.Fatalf("limit %d: %v", len(raw), err)
			}
			out, err := Decompress(tc.c, comp, []byte("keep"), len(raw)-1)
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("limit %d: %v, want ErrTooLarge", len(raw)-1, err)
			}
			if string(out) != "keep" {
				t.Fatalf("on error dst became %q, want it unchanged", out)
			}
		})
	}
}

// TestDecompressBombMemory decompresses 64 MiB of zeros (a few KiB
// compressed) with a 1 MiB limit and checks the attempt fails without
// allocating anywhere near the bomb's size.
func TestDecompressBombMemory(t *testing.T) {
	raw := make([]byte, 64<<20)
	const limit = 1 << 20
	for _, tc := range allCodecs {
		if tc.c == CompressionNone {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			comp := compressForTest(tc.c, tc.xerial, raw)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := Decompress(tc.c, comp, nil, limit)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("bomb of %d compressed bytes: %v, want ErrTooLarge", len(comp), err)
			}
			// Decoders may be created for the pool on first use;
			// allow them, never the bomb itself.
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 16*limit {
				t.Fatalf("bomb allocated %d bytes with a %d limit", grew, limit)
			}
		})
	}
}

func TestDecompressUnknownCodec(t *testing.T) {
	for _, c := range []Compression{5, 6, 7, -1} {
		if _, err := Decompress(c, []byte("x"), nil, 100); !errors.Is(err, ErrUnsupportedCompression) {
			t.Errorf("codec %d: %v, want ErrUnsupportedCompression", c, err)
		}
	}
}

func TestDecompressCorruptInput(t *testing.T) {
	raw := bytes.Repeat([]byte("corruption "), 1000)
	for _, tc := range allCodecs {
		if tc.c == CompressionNone {
			continue
		}
		comp := compressForTest(tc.c, tc.xerial, raw)
		cases := map[string][]byte{
			"truncated": comp[:len(comp)/2],
			"garbage":   bytes.Repeat([]byte{0x5a}, 64),
			"empty":     nil,
		}
		for name, in := range cases {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				out, err := Decompress(tc.c, in, nil, 1<<20)
				if name == "empty" && (tc.c == CompressionZstd || tc.c == CompressionLZ4) && err == nil && len(out) == 0 {
					// Zero frames: the decoders accept it as an
					// empty stream; Validate then finds no records.
					return
				}
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("%d bytes: got %d bytes, err %v, want ErrCorrupt", len(in), len(out), err)
				}
			})
		}
	}
}

func TestDecompressXerialFraming(t *testing.T) {
	header := appendXerial(nil, nil)
	block := compressForTest(CompressionSnappy, false, []byte("hello"))
	valid := binary.BigEndian.AppendUint32(bytes.Clone(header), uint32(len(block)))
	valid = append(valid, block...)
	if out, err := Decompress(CompressionSnappy, valid, nil, 100); err != nil || string(out) != "hello" {
		t.Fatalf("valid xerial: %q, %v", out, err)
	}
	if out, err := Decompress(CompressionSnappy, header, nil, 100); err != nil || len(out) != 0 {
		t.Fatalf("xerial header alone: %q, %v; want empty output", out, err)
	}
	bad := map[string][]byte{
		"block length past end": append(binary.BigEndian.AppendUint32(bytes.Clone(header), 1000), block...),
		"stray bytes":           append(bytes.Clone(valid), 0, 0),
		"corrupt block":         append(binary.BigEndian.AppendUint32(bytes.Clone(header), 3), 0x05, 0xff, 0xff),
	}
	for name, in := range bad {
		if _, err := Decompress(CompressionSnappy, in, nil, 100); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
	// Blocks are summed against the limit before any is decoded.
	twice := append(bytes.Clone(valid), valid[xerialHeaderSize:]...)
	if _, err := Decompress(CompressionSnappy, twice, nil, 9); !errors.Is(err, ErrTooLarge) {
		t.Errorf("two 5-byte blocks with limit 9: %v, want ErrTooLarge", err)
	}
}

// TestDecompressConcurrentLimits shares the decoder pools between
// goroutines that use different limits; run with -race.
func TestDecompressConcurrentLimits(t *testing.T) {
	raw := bytes.Repeat([]byte("concurrency "), 2000) // 24000 bytes
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				tc := allCodecs[(g+i)%len(allCodecs)]
				comp := compressForTest(tc.c, tc.xerial, raw)
				limit := len(raw)
				if i%2 == 1 {
					limit = len(raw) / 2
				}
				out, err := Decompress(tc.c, comp, nil, limit)
				switch {
				case limit < len(raw) && !errors.Is(err, ErrTooLarge):
					errs <- fmt.Errorf("%s limit %d: %v, want ErrTooLarge", tc.name, limit, err)
				case limit >= len(raw) && (err != nil || !bytes.Equal(out, raw)):
					errs <- fmt.Errorf("%s limit %d: %d bytes, %v", tc.name, limit, len(out), err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
