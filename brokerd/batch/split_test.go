package batch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func TestSplitFramesEachBatch(t *testing.T) {
	b1 := Build(sampleRecords(), BuildOptions{})
	b2 := Build(manyRecords(3, 10), BuildOptions{Compression: CompressionGzip})
	b3 := Build(manyRecords(1, 10), BuildOptions{})
	set := append(append(bytes.Clone(b1), b2...), b3...)
	got, err := Split(set)
	if err != nil {
		t.Fatalf("Split: %v", err)
	}
	want := [][]byte{b1, b2, b3}
	if len(got) != len(want) {
		t.Fatalf("Split returned %d batches, want 3", len(got))
	}
	at := 0
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("batch %d differs", i)
		}
		if &got[i][0] != &set[at] {
			t.Errorf("batch %d is a copy, want a sub-slice of the input", i)
		}
		if cap(got[i]) != len(got[i]) {
			t.Errorf("batch %d capacity %d reaches into the next batch", i, cap(got[i]))
		}
		at += len(want[i])
	}
}

func TestSplitErrors(t *testing.T) {
	one := Build(sampleRecords(), BuildOptions{})
	withLength := func(l int32) []byte {
		b := bytes.Clone(one)
		binary.BigEndian.PutUint32(b[offLength:], uint32(l))
		return b
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrCorrupt},
		{"partial header", one[:20], ErrTruncated},
		{"partial body", one[:len(one)-1], ErrTruncated},
		{"trailing partial batch", append(bytes.Clone(one), one[:HeaderSize+3]...), ErrTruncated},
		{"trailing partial header", append(bytes.Clone(one), 0, 0, 0), ErrTruncated},
		{"negative length", withLength(-1), ErrCorrupt},
		{"length below header", withLength(HeaderSize - LengthPrefix - 1), ErrCorrupt},
		{"huge length", withLength(1<<31 - 1), ErrTruncated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Split(tc.in)
			if !errors.Is(err, tc.want) || got != nil {
				t.Fatalf("Split = %d batches, %v; want nil, %v", len(got), err, tc.want)
			}
		})
	}
}

func TestIterStopsAtError(t *testing.T) {
	one := Build(sampleRecords(), BuildOptions{})
	set := append(bytes.Clone(one), one[:10]...)
	it := NewIter(set)
	n := 0
	for it.Next() {
		n++
		if !bytes.Equal(it.Batch(), one) {
			t.Fatal("first batch differs")
		}
	}
	if n != 1 || !errors.Is(it.Err(), ErrTruncated) {
		t.Fatalf("iterated %d batches, err %v; want 1, ErrTruncated", n, it.Err())
	}
	if it.Next() || it.Batch() != nil {
		t.Fatal("Next after an error must keep returning false")
	}
	empty := NewIter(nil)
	if empty.Next() || empty.Err() != nil {
		t.Fatal("an empty record set yields no batches and no error")
	}
}

func TestIterDoesNotAllocate(t *testing.T) {
	one := Build(sampleRecords(), BuildOptions{})
	set := bytes.Repeat(one, 5)
	allocs := testing.AllocsPerRun(100, func() {
		it := NewIter(set)
		for it.Next() {
		}
		if it.Err() != nil {
			t.Fatal(it.Err())
		}
	})
	if allocs != 0 {
		t.Fatalf("Iter allocates %.1f times, want 0", allocs)
	}
}
