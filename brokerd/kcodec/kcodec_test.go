package kcodec

import "testing"

func TestCodec(t *testing.T) {
	for _, n := range append(Names, "", "ZSTD") {
		if _, err := Codec(n); err != nil {
			t.Errorf("%q: %v", n, err)
		}
	}
	for _, bad := range []string{"brotli", "gz", "none "} {
		if Valid(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}
