package cli

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
)

func TestParseConfigs(t *testing.T) {
	got, err := parseConfigs([]string{"retention.ms=1000", "cleanup.policy=compact,delete", "x=a=b", "empty="})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"retention.ms": "1000", "cleanup.policy": "compact,delete", "x": "a=b", "empty": ""}
	if len(got) != len(want) {
		t.Fatalf("got %d configs, want %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] == nil || *got[k] != v {
			t.Errorf("config %q = %v, want %q", k, got[k], v)
		}
	}
	for _, bad := range [][]string{{"novalue"}, {"=v"}, {"a=1", "a=2"}} {
		if _, err := parseConfigs(bad); !errors.Is(err, ErrUsage) {
			t.Errorf("parseConfigs(%q) = %v, want a usage error", bad, err)
		}
	}
}

func TestConfigAlterations(t *testing.T) {
	alters, err := configAlterations([]string{"b=2", "a=1"}, []string{"c"})
	if err != nil {
		t.Fatal(err)
	}
	if len(alters) != 3 ||
		alters[0].Name != "a" || alters[0].Op != kadm.SetConfig || *alters[0].Value != "1" ||
		alters[1].Name != "b" || alters[2].Name != "c" || alters[2].Op != kadm.DeleteConfig {
		t.Fatalf("alterations = %+v", alters)
	}
	if _, err := configAlterations([]string{"a=1"}, []string{"a"}); !errors.Is(err, ErrUsage) {
		t.Errorf("set and delete of the same key: %v, want a usage error", err)
	}
	if _, err := configAlterations(nil, []string{"a=1"}); !errors.Is(err, ErrUsage) {
		t.Errorf("--delete-config a=1: %v, want a usage error", err)
	}
}

func TestParseHeaders(t *testing.T) {
	hs, err := parseHeaders([]string{"a:1", "url:http://x", "empty:"})
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 3 || hs[0].Key != "a" || string(hs[0].Value) != "1" ||
		hs[1].Key != "url" || string(hs[1].Value) != "http://x" || string(hs[2].Value) != "" {
		t.Fatalf("headers = %+v", hs)
	}
	for _, bad := range []string{"nocolon", ":v"} {
		if _, err := parseHeaders([]string{bad}); !errors.Is(err, ErrUsage) {
			t.Errorf("parseHeaders(%q) = %v, want a usage error", bad, err)
		}
	}
}

func TestParseCompression(t *testing.T) {
	for _, ok := range []string{"none", "gzip", "snappy", "lz4", "zstd", "ZSTD"} {
		if _, err := parseCompression(ok); err != nil {
			t.Errorf("parseCompression(%q): %v", ok, err)
		}
	}
	if _, err := parseCompression("brotli"); !errors.Is(err, ErrUsage) {
		t.Errorf("brotli accepted: %v", err)
	}
}

func TestParseAcks(t *testing.T) {
	for in, all := range map[string]bool{"all": true, "-1": true, "0": false, "1": false} {
		m, err := parseAcks(in)
		if err != nil || m.all != all {
			t.Errorf("parseAcks(%q) = %+v, %v", in, m, err)
		}
	}
	for _, bad := range []string{"2", "", "none"} {
		if _, err := parseAcks(bad); !errors.Is(err, ErrUsage) {
			t.Errorf("parseAcks(%q) = %v, want a usage error", bad, err)
		}
	}
}

func TestParseOffset(t *testing.T) {
	cases := map[string]startOffset{
		"earliest": {kind: offsetEarliest},
		"latest":   {kind: offsetLatest},
		"0":        {kind: offsetExact},
		"123":      {kind: offsetExact, exact: 123},
	}
	for in, want := range cases {
		got, err := parseOffset(in)
		if err != nil || got != want {
			t.Errorf("parseOffset(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"-1", "soon", "1.5", ""} {
		if _, err := parseOffset(bad); !errors.Is(err, ErrUsage) {
			t.Errorf("parseOffset(%q) = %v, want a usage error", bad, err)
		}
	}
}

func TestUnescape(t *testing.T) {
	cases := map[string]string{`\t`: "\t", `a\nb`: "a\nb", `\\`: `\`, `plain`: "plain", ` => `: " => ", `\0`: "\x00"}
	for in, want := range cases {
		got, err := unescape(in)
		if err != nil || got != want {
			t.Errorf("unescape(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{`\`, `\x`} {
		if _, err := unescape(bad); err == nil {
			t.Errorf("unescape(%q) accepted", bad)
		}
	}
}
