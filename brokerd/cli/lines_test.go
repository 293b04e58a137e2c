package cli

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func readAll(t *testing.T, lr *lineReader) ([]string, error) {
	t.Helper()
	var out []string
	for {
		line, err := lr.next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, string(line))
	}
}

func TestLineReader(t *testing.T) {
	cases := map[string][]string{
		"":                nil,
		"a\n":             {"a"},
		"a\nb":            {"a", "b"},
		"a\r\nb\r\n":      {"a", "b"},
		"\n\n":            {"", ""},
		"a\rb\n":          {"a\rb"},
		"key\tvalue\nx\n": {"key\tvalue", "x"},
	}
	for in, want := range cases {
		got, err := readAll(t, newLineReader(strings.NewReader(in), 1024))
		if err != nil || strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
			t.Errorf("lines of %q = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestLineReaderLongLines(t *testing.T) {
	big := strings.Repeat("x", 3<<20) // far beyond bufio's buffer
	got, err := readAll(t, newLineReader(strings.NewReader("a\n"+big+"\nb\n"), 4<<20))
	if err != nil || len(got) != 3 || got[1] != big || got[2] != "b" {
		t.Fatalf("long line not read whole: %d lines, err %v", len(got), err)
	}

	lr := newLineReader(strings.NewReader("ok\n"+big+"\n"), 1<<20)
	got, err = readAll(t, lr)
	if !errors.Is(err, errLineTooLong) || len(got) != 1 || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("over-long line: lines %d, err %v; want errLineTooLong on line 2", len(got), err)
	}
}

func TestLineReaderOwnsEachLine(t *testing.T) {
	lr := newLineReader(strings.NewReader("first\nsecond\n"), 1024)
	a, _ := lr.next()
	b, _ := lr.next()
	if string(a) != "first" || string(b) != "second" {
		t.Fatalf("lines share a buffer: %q %q", a, b)
	}
}

func TestSplitKey(t *testing.T) {
	cases := []struct {
		line, sep, key, value string
		ok                    bool
	}{
		{"k\tv", "\t", "k", "v", true},
		{"k=v=w", "=", "k", "v=w", true},
		{"=v", "=", "", "v", true},
		{"k=", "=", "k", "", true},
		{"k::v", "::", "k", "v", true},
		{"novalue", "=", "", "", false},
	}
	for _, c := range cases {
		k, v, ok := splitKey([]byte(c.line), []byte(c.sep))
		if ok != c.ok || (ok && (string(k) != c.key || string(v) != c.value)) {
			t.Errorf("splitKey(%q, %q) = %q, %q, %v", c.line, c.sep, k, v, ok)
		}
	}
}
