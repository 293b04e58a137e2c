package topics

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kafki/kafki/brokerd/config"
)

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"a", "orders.v1", "A_b-C", strings.Repeat("x", MaxNameLen)} {
		if err := ValidateName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "a/b", "spa ce", "ünï", strings.Repeat("x", MaxNameLen+1)} {
		if err := ValidateName(bad); !errors.Is(err, ErrInvalidName) {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestResolveOverridesAndRejections(t *testing.T) {
	d := config.Default()
	s, err := resolve(&d, map[string]string{"retention.ms": "60000", "segment.bytes": "1024", "message.timestamp.type": "LogAppendTime", "retention.bytes": "-1"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Log.RetentionMs != time.Minute || s.Log.SegmentBytes != 1024 || s.TimestampType != config.LogAppendTime || s.Log.RetentionBytes != -1 {
		t.Fatalf("%+v", s)
	}
	if s.MaxMessageBytes != d.MaxMessageBytes {
		t.Fatalf("default max.message.bytes not applied: %d", s.MaxMessageBytes)
	}
	for k, v := range map[string]string{
		"retention.ms": "soon", "segment.bytes": "3", "cleanup.policy": "compact,bogus",
		"message.timestamp.type": "Now", "unknown.key": "1", "max.message.bytes": "-1",
	} {
		if _, err := resolve(&d, map[string]string{k: v}); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: %v", k, v, err)
		}
	}
}

func TestEffectiveConfigsSources(t *testing.T) {
	d := config.Default()
	var sawOverride, sawDefault bool
	for _, e := range EffectiveConfigs(&d, map[string]string{"retention.ms": "5"}) {
		if e.Name == "retention.ms" {
			sawOverride = e.Value == "5" && e.Source == SourceTopic
		}
		if e.Name == "segment.bytes" {
			sawDefault = e.Value == "1073741824" && e.Source == SourceDefault
		}
		if e.Kind == "" {
			t.Errorf("%s has no kind", e.Name)
		}
	}
	if !sawOverride || !sawDefault {
		t.Fatal("sources wrong")
	}
}

func TestTieringTopicConfigs(t *testing.T) {
	d := config.Default()
	s, err := resolve(&d, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Log.RemoteStorage || s.Log.LocalRetentionBytes != -2 || s.Log.LocalRetentionMs != -2*time.Millisecond {
		t.Fatalf("defaults: %+v", s.Log)
	}
	s, err = resolve(&d, map[string]string{"remote.storage.enable": "true", "local.retention.bytes": "4096", "local.retention.ms": "1000", "retention.bytes": "8192"})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Log.RemoteStorage || s.Log.LocalRetentionBytes != 4096 || s.Log.LocalRetentionMs != time.Second {
		t.Fatalf("overrides: %+v", s.Log)
	}
	for _, bad := range []map[string]string{
		{"remote.storage.enable": "maybe"},
		{"local.retention.bytes": "-3"},
		{"local.retention.ms": "x"},
		{"local.retention.bytes": "9000", "retention.bytes": "8192"},
		{"local.retention.bytes": "-1", "retention.bytes": "8192"},
		{"local.retention.ms": "2000", "retention.ms": "1000"},
	} {
		if _, err := resolve(&d, bad); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%v accepted: %v", bad, err)
		}
	}
	// Remote storage needs an object store on the broker.
	on := map[string]string{"remote.storage.enable": "true"}
	if err := ValidateConfigs(&d, on); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "remote.storage.enable") {
		t.Fatalf("accepted without tiering: %v", err)
	}
	d.TierDir = t.TempDir()
	if err := ValidateConfigs(&d, on); err != nil {
		t.Fatal(err)
	}
}
