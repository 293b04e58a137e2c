package triggers

import (
	"strings"
	"testing"
	"time"
)

func TestFilterPatterns(t *testing.T) {
	rec := func(v string) *Record { return &Record{Topic: "orders", Partition: 2, Offset: 9, Value: []byte(v)} }
	order := `{"kind":"order","amount":25,"region":"eu-west-1","tags":["a","b"],"customer":{"tier":"gold","email":"X@Example.com"},"note":null}`
	for _, tc := range []struct {
		pattern, value string
		want           bool
	}{
		{`{"value":{"kind":["order"]}}`, order, true},
		{`{"value":{"kind":["refund"]}}`, order, false},
		{`{"value":{"kind":["refund","order"]}}`, order, true},
		{`{"value":{"amount":[25]}}`, order, true},
		{`{"value":{"amount":[{"numeric":[">",10,"<=",25]}]}}`, order, true},
		{`{"value":{"amount":[{"numeric":["<",10]}]}}`, order, false},
		{`{"value":{"region":[{"prefix":"eu-"}]}}`, order, true},
		{`{"value":{"region":[{"suffix":"-2"}]}}`, order, false},
		{`{"value":{"region":[{"anything-but":["us-east-1"]}]}}`, order, true},
		{`{"value":{"region":[{"anything-but":{"prefix":"eu"}}]}}`, order, false},
		{`{"value":{"tags":["b"]}}`, order, true},
		{`{"value":{"tags":["c"]}}`, order, false},
		{`{"value":{"customer":{"tier":["gold"]}}}`, order, true},
		{`{"value":{"customer":{"email":[{"equals-ignore-case":"x@example.com"}]}}}`, order, true},
		{`{"value":{"missing":[{"exists":false}]}}`, order, true},
		{`{"value":{"kind":[{"exists":true}]}}`, order, true},
		{`{"value":{"kind":[{"exists":false}]}}`, order, false},
		{`{"value":{"note":[null]}}`, order, true},
		{`{"topic":["orders"],"partition":[2]}`, order, true},
		{`{"value":{"kind":["order"]}}`, `not json`, false},
		{`{"topic":["orders"]}`, `not json`, true},
		{`{"value":{"kind":["order"]},"topic":["other"]}`, order, false},
	} {
		p, err := ParsePattern(tc.pattern)
		if err != nil {
			t.Fatalf("%s: %v", tc.pattern, err)
		}
		f := Filter{p}
		if got := f.Pass(rec(tc.value)); got != tc.want {
			t.Errorf("%s on %s: %v, want %v", tc.pattern, tc.value, got, tc.want)
		}
	}
	if !(Filter{}).Pass(rec("x")) {
		t.Error("no filter must pass everything")
	}
}

func TestBadPatternsAreOneLineErrors(t *testing.T) {
	for _, p := range []string{
		``, `[]`, `{}`, `{"value":"x"}`, `{"value":{"a":[]}}`, `{"value":{"a":[{"bogus":1}]}}`,
		`{"value":{"a":[{"numeric":[">"]}]}}`, `{"value":{"a":[{"prefix":1}]}}`, `{"value":{"a":[{"exists":"yes"}]}}`, `{"a":`,
	} {
		_, err := ParsePattern(p)
		if err == nil {
			t.Errorf("%q: no error", p)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: multi-line error %q", p, err)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := NewDefinition("t1", "fn", "orders")
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		mod  func(*Definition)
		want string
	}{
		{"batch 0", func(d *Definition) { d.BatchSize = 0 }, "batch size 0"},
		{"batch too big", func(d *Definition) { d.BatchSize = 10001 }, "batch size 10001"},
		{"no function", func(d *Definition) { d.Function = "" }, "function is required"},
		{"no topics", func(d *Definition) { d.Topics = nil }, "topic"},
		{"bad id", func(d *Definition) { d.ID = "a/b" }, "id"},
		{"bad filter", func(d *Definition) { d.Filters = []string{`{"value":1}`} }, "filter 1"},
		{"payload", func(d *Definition) { d.MaxPayloadBytes = 7 << 20 }, "max payload"},
		{"position", func(d *Definition) { d.StartingPosition = "EARLIEST" }, "starting position"},
		{"timestamp", func(d *Definition) { d.StartingPosition = AtTimestamp }, "starting timestamp"},
		{"destination", func(d *Definition) { d.OnFailure = "sqs://q" }, "on-failure"},
		{"retries", func(d *Definition) { d.MaxRetryAttempts = -2 }, "retry"},
		{"age", func(d *Definition) { d.MaxRecordAge = MillisOf(time.Second) }, "record age"},
	} {
		d := NewDefinition("t1", "fn", "orders")
		tc.mod(&d)
		err := d.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want a one-line error with %q", tc.name, err, tc.want)
		}
	}
}
