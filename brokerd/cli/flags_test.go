package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

func TestFlagSyntaxes(t *testing.T) {
	for _, args := range [][]string{
		{"--topic", "t", "--partitions", "3", "--config", "a=1", "--config", "b=2"},
		{"--topic=t", "--partitions=3", "--config=a=1", "--config=b=2"},
		{"-topic", "t", "-partitions=3", "--config", "a=1", "-config=b=2"},
	} {
		c := newCommand("x", "x", "x", "")
		topic := c.fs.String("topic", "", "")
		parts := c.fs.Int("partitions", -1, "")
		var cfg stringList
		c.fs.Var(&cfg, "config", "")
		if err := c.parse(args, io.Discard); err != nil {
			t.Fatalf("parse %q: %v", args, err)
		}
		if *topic != "t" || *parts != 3 || strings.Join(cfg, ";") != "a=1;b=2" {
			t.Errorf("parse %q: topic %q partitions %d config %q", args, *topic, *parts, cfg)
		}
		if !c.isSet("partitions") || c.isSet("nope") {
			t.Errorf("isSet wrong for %q", args)
		}
	}
}

func TestParseErrorsAreUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"--unknown"}, {"--count", "x"}, {"stray"}, {"--count"}} {
		c := newCommand("x", "x", "x", "")
		c.fs.Int("count", 0, "")
		err := c.parse(args, io.Discard)
		if !errors.Is(err, ErrUsage) {
			t.Errorf("parse %q = %v, want a usage error", args, err)
		}
		if err != nil && strings.Contains(err.Error(), " -unknown") {
			t.Errorf("error names the flag with one dash: %v", err)
		}
	}
}

func TestHelpGoesToStdout(t *testing.T) {
	c := newCommand("demo", "demo --topic T", "Does a demo.", "  kafki demo --topic t")
	c.fs.String("topic", "", "The topic.")
	c.fs.Int("n", 5, "How many.")
	var out bytes.Buffer
	if err := c.parse([]string{"--help"}, &out); !errors.Is(err, errHelpShown) {
		t.Fatalf("--help returned %v", err)
	}
	help := out.String()
	for _, want := range []string{"Usage: kafki demo --topic T", "--topic string", "--n int", "How many. (default 5)", "Examples:\n  kafki demo --topic t"} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q:\n%s", want, help)
		}
	}
}

func TestOptionalBool(t *testing.T) {
	c := newCommand("x", "x", "x", "")
	var b optionalBool
	c.fs.Var(&b, "idempotent", "")
	if err := c.parse(nil, io.Discard); err != nil || b.set {
		t.Fatalf("unset: %+v %v", b, err)
	}
	for args, want := range map[string]bool{"--idempotent": true, "--idempotent=true": true, "--idempotent=false": false} {
		var b optionalBool
		c := newCommand("x", "x", "x", "")
		c.fs.Var(&b, "idempotent", "")
		if err := c.parse([]string{args}, io.Discard); err != nil || !b.set || b.value != want {
			t.Errorf("%s: %+v %v", args, b, err)
		}
	}
}

func TestBootstrapFromEnv(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == bootstrapEnv {
				return v
			}
			return ""
		}
	}
	for _, c := range []struct {
		env  string
		args []string
		want string
	}{
		{"", nil, defaultBootstrap},
		{"b1:9093,b2:9093", nil, "b1:9093,b2:9093"},
		{"b1:9093", []string{"--bootstrap-server", "flag:1"}, "flag:1"},
	} {
		cmd := newCommand("x", "x", "x", "")
		var cf connFlags
		cf.register(cmd, env(c.env))
		if err := cmd.parse(c.args, io.Discard); err != nil {
			t.Fatal(err)
		}
		if cf.bootstrap != c.want || cf.timeout != defaultTimeout {
			t.Errorf("env %q args %q: bootstrap %q timeout %s", c.env, c.args, cf.bootstrap, cf.timeout)
		}
	}
}

func TestParseBootstrap(t *testing.T) {
	got, err := parseBootstrap(" a:1, b:2 ,c,[::1]:9092")
	if err != nil || strings.Join(got, "|") != "a:1|b:2|c|[::1]:9092" {
		t.Fatalf("parseBootstrap = %q, %v", got, err)
	}
	for _, bad := range []string{"", "a:1,", "a:x", "a:0", "a:70000"} {
		if _, err := parseBootstrap(bad); !errors.Is(err, ErrUsage) {
			t.Errorf("parseBootstrap(%q) = %v, want a usage error", bad, err)
		}
	}
}

func TestValidateProduceIdempotence(t *testing.T) {
	unset := optionalBool{}
	cases := []struct {
		acks    string
		idem    optionalBool
		want    bool
		wantErr bool
	}{
		{"all", unset, true, false},
		{"1", unset, false, false},
		{"0", unset, false, false},
		{"all", optionalBool{set: true, value: false}, false, false},
		{"1", optionalBool{set: true, value: true}, false, true},
	}
	for _, c := range cases {
		o, err := validateProduce("t", "", false, nil, "none", c.acks, c.idem, -1, 0, 0, 1000)
		if c.wantErr {
			if !errors.Is(err, ErrUsage) {
				t.Errorf("acks %s idem %+v: %v, want a usage error", c.acks, c.idem, err)
			}
			continue
		}
		if err != nil || o.idempotent != c.want {
			t.Errorf("acks %s idem %+v: idempotent %v err %v, want %v", c.acks, c.idem, o.idempotent, err, c.want)
		}
	}
}

func TestValidateProduceKeySeparator(t *testing.T) {
	o, err := validateProduce("t", `\t`, true, nil, "none", "all", optionalBool{}, -1, 0, 0, 1000)
	if err != nil || string(o.keySep) != "\t" {
		t.Fatalf("keySep %q, %v", o.keySep, err)
	}
	o, err = validateProduce("t", "", false, nil, "none", "all", optionalBool{}, -1, 0, 0, 1000)
	if err != nil || o.keySep != nil {
		t.Fatalf("no separator: keySep %q, %v", o.keySep, err)
	}
	if _, err := validateProduce("t", "", true, nil, "none", "all", optionalBool{}, -1, 0, 0, 1000); !errors.Is(err, ErrUsage) {
		t.Errorf("empty --key-separator accepted: %v", err)
	}
	if _, err := validateProduce("t", "", false, nil, "none", "all", optionalBool{}, -1, 0, 100, 1000); !errors.Is(err, ErrUsage) {
		t.Errorf("--max-batch-bytes 100 accepted: %v", err)
	}
}

func TestValidateConsumeStart(t *testing.T) {
	base := consumeFlags{topic: "t", partition: -1, keySep: `\t`}
	o, err := validateConsume(base)
	if err != nil || o.start.kind != offsetLatest {
		t.Fatalf("default start = %v, %v; want latest", o.start, err)
	}
	f := base
	f.fromBeginning = true
	if o, err := validateConsume(f); err != nil || o.start.kind != offsetEarliest {
		t.Errorf("--from-beginning start = %v, %v", o.start, err)
	}
	f = base
	f.partition, f.offset, f.offsetSet = 2, "17", true
	if o, err := validateConsume(f); err != nil || o.start != (startOffset{kind: offsetExact, exact: 17}) || o.partition != 2 {
		t.Errorf("--partition 2 --offset 17 = %+v, %v", o, err)
	}
	f = base
	f.offset, f.offsetSet = "earliest", true
	if o, err := validateConsume(f); err != nil || o.start.kind != offsetEarliest {
		t.Errorf("--offset earliest on all partitions = %v, %v", o.start, err)
	}
	f = base
	f.keySepSet = true
	if _, err := validateConsume(f); !errors.Is(err, ErrUsage) {
		t.Errorf("--key-separator without --print-key: %v", err)
	}
	f = base
	f.printKey, f.formatSet, f.format = true, true, "%v"
	if _, err := validateConsume(f); !errors.Is(err, ErrUsage) {
		t.Errorf("--format with --print-key: %v", err)
	}
}

func TestReportExitCodes(t *testing.T) {
	cases := []struct {
		err  error
		code int
		line string
	}{
		{nil, ExitOK, ""},
		{errHelpShown, ExitOK, ""},
		{usagef("bad --x"), ExitUsage, "kafki produce: bad --x (see 'kafki produce --help')\n"},
		{fmt.Errorf("wrapped: %w", ErrUnknownTopic), ExitFailure, "kafki produce: wrapped: unknown topic\n"},
		{errors.New("a\nb"), ExitFailure, "kafki produce: a; b\n"},
		{context.Canceled, ExitFailure, "kafki produce: interrupted\n"},
	}
	for _, c := range cases {
		var stderr bytes.Buffer
		if code := report("produce", c.err, &stderr); code != c.code || stderr.String() != c.line {
			t.Errorf("report(%v) = %d %q, want %d %q", c.err, code, stderr.String(), c.code, c.line)
		}
	}
}

func TestBrokerErrorNamesBootstrapOnTimeout(t *testing.T) {
	err := brokerError(fmt.Errorf("x: %w", context.DeadlineExceeded), "", []string{"h:1"}, 2*time.Second)
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "h:1") || !strings.Contains(err.Error(), "2s") {
		t.Fatalf("brokerError = %v", err)
	}
	err = brokerError(errors.New("CODE: text"), "extra detail", nil, time.Second)
	if err.Error() != "CODE: text (extra detail)" {
		t.Fatalf("brokerError with message = %v", err)
	}
}

func TestBrokerErrorUnsupported(t *testing.T) {
	err := brokerError(errors.New("broker is too old; the broker has already indicated it will not know how to handle the request"), "", nil, time.Second)
	if !errors.Is(err, ErrUnsupported) {
		t.Fatalf("brokerError = %v, want ErrUnsupported", err)
	}
}
