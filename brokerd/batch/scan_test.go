package batch

import (
	"errors"
	"testing"
)

func TestScan(t *testing.T) {
	var log []byte
	for i := range 3 {
		b := Build([]Record{{Value: []byte("v")}, {Value: []byte("w")}}, BuildOptions{BaseOffset: int64(2 * i)})
		log = append(log, b...)
	}
	// read returns every batch from the one holding off, as a log does.
	read := func(off int64) ([]byte, error) {
		for it := NewIter(log); it.Next(); {
			h, _ := ParseHeader(it.Batch())
			if h.LastOffset() >= off {
				i := len(log) - len(it.rest) - len(it.Batch())
				return log[i:], nil
			}
		}
		return nil, nil
	}
	var bases []int64
	if err := Scan(read, 1, 6, func(h *Header, _ []byte) error { bases = append(bases, h.BaseOffset); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(bases) != 3 || bases[0] != 0 || bases[2] != 4 {
		t.Fatalf("scanned batches at %v, want 0 2 4", bases)
	}
	stop := errors.New("stop")
	if err := Scan(read, 0, 6, func(*Header, []byte) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("fn's error: %v", err)
	}
	bad := func(int64) ([]byte, error) { return []byte{1, 2, 3}, nil }
	if err := Scan(bad, 0, 6, func(*Header, []byte) error { return nil }); err == nil {
		t.Fatal("a broken batch header scanned without error")
	}
}
