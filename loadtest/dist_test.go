package loadtest

import (
	"math/rand/v2"
	"testing"
)

func TestParseSizeDist(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		in       string
		min, max int
		str      string
	}{
		{"1024", 1024, 1024, "1024"},
		{"100-200", 100, 200, "100-200"},
		{"10,1000,100", 10, 1000, "10,1000,100"},
		{" 0 ", 0, 0, "0"},
	} {
		d, err := ParseSizeDist(tc.in)
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		if d.Min() != tc.min || d.Max() != tc.max || d.String() != tc.str {
			t.Fatalf("%q: min %d max %d %q, want %d %d %q", tc.in, d.Min(), d.Max(), d.String(), tc.min, tc.max, tc.str)
		}
		seen := map[int]bool{}
		for range 2000 {
			n := d.Next(rng)
			if n < tc.min || n > tc.max {
				t.Fatalf("%q: drew %d outside [%d,%d]", tc.in, n, tc.min, tc.max)
			}
			seen[n] = true
		}
		if tc.in == "10,1000,100" && len(seen) != 3 {
			t.Fatalf("choice drew %d distinct sizes, want 3", len(seen))
		}
		if tc.in == "100-200" && (!seen[100] || !seen[200]) {
			t.Fatalf("range never drew its bounds")
		}
	}
	for _, bad := range []string{"", "x", "-5", "200-100", "1,,2", "2000000", "1-2-3"} {
		if _, err := ParseSizeDist(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

func TestKeyDist(t *testing.T) {
	for _, bad := range []string{"uniform", "uniform:0", "zipf:x", "hash:10", "uniform:-1"} {
		if _, err := ParseKeyDist(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
	if k, err := ParseKeyDist("none"); err != nil || newKeyPicker(k, 1).next() != nil {
		t.Fatalf("none: %v, want nil keys", err)
	}
	for _, spec := range []string{"uniform:50", "zipf:50"} {
		k, err := ParseKeyDist(spec)
		if err != nil || k.String() != spec {
			t.Fatalf("%q: %v %q", spec, err, k.String())
		}
		p := newKeyPicker(k, 1)
		counts := map[string]int{}
		for range 10000 {
			counts[string(p.next())]++
		}
		if len(counts) < 40 || len(counts) > 50 {
			t.Fatalf("%s: %d distinct keys, want up to 50 and most of them", spec, len(counts))
		}
		if spec == "zipf:50" && counts["00"] < 10000/10 {
			t.Fatalf("zipf: hottest key drawn %d times of 10000, want a skew", counts["00"])
		}
	}
}
