package loadtest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// SizeDist is a distribution of record value sizes: a fixed size, a
// uniform range, or a uniform choice among listed sizes. The zero value is
// invalid; build one with ParseSizeDist.
type SizeDist struct {
	lo, hi  int   // uniform in [lo, hi] when choices is empty
	choices []int // uniform choice among these when non-empty
}

// ParseSizeDist parses "N", "MIN-MAX" or "A,B,C" (sizes in bytes, ≥ 0).
func ParseSizeDist(s string) (SizeDist, error) {
	s = strings.TrimSpace(s)
	switch {
	case strings.Contains(s, ","):
		var d SizeDist
		for _, f := range strings.Split(s, ",") {
			n, err := parseSize(f)
			if err != nil {
				return SizeDist{}, err
			}
			d.choices = append(d.choices, n)
		}
		return d, nil
	case strings.Contains(s, "-"):
		a, b, _ := strings.Cut(s, "-")
		lo, err := parseSize(a)
		if err != nil {
			return SizeDist{}, err
		}
		hi, err := parseSize(b)
		if err != nil {
			return SizeDist{}, err
		}
		if lo > hi {
			return SizeDist{}, fmt.Errorf("size range %q: minimum above maximum", s)
		}
		return SizeDist{lo: lo, hi: hi}, nil
	}
	n, err := parseSize(s)
	if err != nil {
		return SizeDist{}, err
	}
	return SizeDist{lo: n, hi: n}, nil
}

func parseSize(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 || n > maxRecordSize {
		return 0, fmt.Errorf("size %q: want a number of bytes 0..%d", s, maxRecordSize)
	}
	return n, nil
}

// Min is the smallest size the distribution yields.
func (d SizeDist) Min() int {
	if len(d.choices) > 0 {
		return slices.Min(d.choices)
	}
	return d.lo
}

// Max is the largest size the distribution yields.
func (d SizeDist) Max() int {
	if len(d.choices) > 0 {
		return slices.Max(d.choices)
	}
	return d.hi
}

// Next draws a size.
func (d SizeDist) Next(rng *rand.Rand) int {
	if len(d.choices) > 0 {
		return d.choices[rng.IntN(len(d.choices))]
	}
	if d.lo == d.hi {
		return d.lo
	}
	return d.lo + rng.IntN(d.hi-d.lo+1)
}

// String is the form ParseSizeDist reads.
func (d SizeDist) String() string {
	if len(d.choices) > 0 {
		parts := make([]string, len(d.choices))
		for i, c := range d.choices {
			parts[i] = strconv.Itoa(c)
		}
		return strings.Join(parts, ",")
	}
	if d.lo == d.hi {
		return strconv.Itoa(d.lo)
	}
	return strconv.Itoa(d.lo) + "-" + strconv.Itoa(d.hi)
}

// MarshalText makes a SizeDist readable in the JSON report.
func (d SizeDist) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads what MarshalText wrote.
func (d *SizeDist) UnmarshalText(b []byte) error {
	v, err := ParseSizeDist(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Key distributions.
const (
	keysNone    = ""
	keysUniform = "uniform"
	keysZipf    = "zipf"
	maxKeys     = 10_000_000
)

// KeyDist is how records are keyed: no key (the client's sticky
// partitioner spreads batches), or N distinct keys drawn uniformly or with
// a Zipf skew (s=1.1, a few hot keys). The zero value is "none".
type KeyDist struct {
	Kind string // keysNone, keysUniform or keysZipf
	N    int
}

// ParseKeyDist parses "none", "uniform:N" or "zipf:N".
func ParseKeyDist(s string) (KeyDist, error) {
	s = strings.TrimSpace(s)
	if s == "none" || s == "" {
		return KeyDist{}, nil
	}
	kind, num, ok := strings.Cut(s, ":")
	n, err := strconv.Atoi(num)
	if !ok || (kind != keysUniform && kind != keysZipf) || err != nil || n < 1 || n > maxKeys {
		return KeyDist{}, fmt.Errorf("keys %q: want none, uniform:N or zipf:N with N in 1..%d", s, maxKeys)
	}
	return KeyDist{Kind: kind, N: n}, nil
}

// String is the form ParseKeyDist reads.
func (k KeyDist) String() string {
	if k.Kind == keysNone {
		return "none"
	}
	return k.Kind + ":" + strconv.Itoa(k.N)
}

// MarshalText makes a KeyDist readable in the JSON report.
func (k KeyDist) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads what MarshalText wrote.
func (k *KeyDist) UnmarshalText(b []byte) error {
	v, err := ParseKeyDist(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// keyPicker draws keys from a KeyDist. Keys are formatted once, so drawing
// allocates nothing. One per producer: it is not safe for concurrent use.
type keyPicker struct {
	keys []byte // all keys, fixed width, back to back
	w    int
	n    int
	rng  *rand.Rand
	zipf *rand.Zipf
}

func newKeyPicker(k KeyDist, seed uint64) *keyPicker {
	if k.Kind == keysNone {
		return nil
	}
	w := len(strconv.Itoa(k.N - 1))
	p := &keyPicker{keys: make([]byte, 0, k.N*w), w: w, n: k.N, rng: rand.New(rand.NewPCG(seed, 7))}
	for i := 0; i < k.N; i++ {
		p.keys = fmt.Appendf(p.keys, "%0*d", w, i)
	}
	if k.Kind == keysZipf {
		p.zipf = rand.NewZipf(p.rng, 1.1, 1, uint64(k.N-1))
	}
	return p
}

// next returns a key (nil when keys are off). The slice is shared: callers
// must not modify it.
func (p *keyPicker) next() []byte {
	if p == nil {
		return nil
	}
	var i int
	if p.zipf != nil {
		i = int(p.zipf.Uint64())
	} else {
		i = p.rng.IntN(p.n)
	}
	return p.keys[i*p.w : (i+1)*p.w : (i+1)*p.w]
}
