package cli

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func testRecord() *kgo.Record {
	return &kgo.Record{
		Topic:     "orders",
		Partition: 3,
		Offset:    42,
		Key:       []byte("user-1"),
		Value:     []byte("hello %v"),
		Timestamp: time.UnixMilli(1700000000123),
		Headers: []kgo.RecordHeader{
			{Key: "a", Value: []byte("1")},
			{Key: "b", Value: []byte("x:y")},
		},
	}
}

func TestFormatTemplates(t *testing.T) {
	cases := []struct {
		tmpl, want string
	}{
		{`%v\n`, "hello %v\n"},
		{`%t/%p@%o`, "orders/3@42"},
		{`%k=%v`, "user-1=hello %v"},
		{`%T`, "1700000000123"},
		{`[%h]`, "[a:1,b:x:y]"},
		{`100%%\t%p\r\n`, "100%\t3\r\n"},
		{`a\\b`, `a\b`},
		{``, ``},
		{`plain`, `plain`},
	}
	for _, c := range cases {
		f, err := compileFormat(c.tmpl)
		if err != nil {
			t.Fatalf("compileFormat(%q): %v", c.tmpl, err)
		}
		if got := string(f.appendRecord(nil, testRecord())); got != c.want {
			t.Errorf("template %q rendered %q, want %q", c.tmpl, got, c.want)
		}
	}
}

func TestFormatNullKeyAndNoHeaders(t *testing.T) {
	f, err := compileFormat(`<%k>|<%h>|<%v>`)
	if err != nil {
		t.Fatal(err)
	}
	got := string(f.appendRecord(nil, &kgo.Record{Value: []byte("v")}))
	if got != "<>|<>|<v>" {
		t.Fatalf("null key and no headers rendered %q", got)
	}
}

func TestFormatRejectsTypos(t *testing.T) {
	for _, tmpl := range []string{`%x`, `%`, `abc%`, `\q`, `\`, `%K`} {
		if _, err := compileFormat(tmpl); err == nil {
			t.Errorf("compileFormat(%q) accepted an invalid template", tmpl)
		}
	}
}

func TestFormatAppendsToBuffer(t *testing.T) {
	f := valueOnlyFormat()
	buf := []byte("prefix:")
	if got := string(f.appendRecord(buf, testRecord())); got != "prefix:hello %v\n" {
		t.Fatalf("appendRecord = %q", got)
	}
}

func TestKeyValueFormatTakesSeparatorLiterally(t *testing.T) {
	got := string(keyValueFormat(`%v\t`).appendRecord(nil, testRecord()))
	if got != "user-1%v\\thello %v\n" {
		t.Fatalf("keyValueFormat = %q", got)
	}
}

func BenchmarkFormat(b *testing.B) {
	f, err := compileFormat(`%t %p %o %k %v %T %h\n`)
	if err != nil {
		b.Fatal(err)
	}
	r := testRecord()
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = f.appendRecord(buf[:0], r)
	}
}
