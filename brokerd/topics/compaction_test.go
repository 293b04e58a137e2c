package topics

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kafki/kafki/brokerd/config"
)

func TestCompactionConfigs(t *testing.T) {
	d := config.Default()
	s, err := resolve(&d, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Log.Compact || s.Log.NoRetention || s.Log.DeleteRetention != 24*time.Hour || s.Log.MinCleanableRatio != 0.5 || s.Log.MaxCompactionLag != 0 {
		t.Fatalf("defaults: %+v", s.Log)
	}
	for v, want := range map[string][2]bool{
		"compact": {true, true}, "delete": {false, false}, "compact,delete": {true, false}, "delete, compact": {true, false},
	} {
		s, err := resolve(&d, map[string]string{KeyCleanupPolicy: v})
		if err != nil || s.Log.Compact != want[0] || s.Log.NoRetention != want[1] {
			t.Errorf("cleanup.policy=%q: compact %v no-retention %v, %v", v, s.Log.Compact, s.Log.NoRetention, err)
		}
	}
	s, err = resolve(&d, map[string]string{KeyDeleteRetentionMs: "1000", KeyMinCompactionLagMs: "5", KeyMaxCompactionLagMs: "60000", KeyMinCleanableDirtyRatio: "0.01"})
	if err != nil || s.Log.DeleteRetention != time.Second || s.Log.MinCompactionLag != 5*time.Millisecond || s.Log.MaxCompactionLag != time.Minute || s.Log.MinCleanableRatio != 0.01 {
		t.Fatalf("%+v %v", s.Log, err)
	}
	for _, bad := range []map[string]string{
		{KeyCleanupPolicy: ""}, {KeyCleanupPolicy: "compacted"}, {KeyCleanupPolicy: "compact,"},
		{KeyMinCleanableDirtyRatio: "1.5"}, {KeyMinCleanableDirtyRatio: "-0.1"}, {KeyMinCleanableDirtyRatio: "NaN"},
		{KeyDeleteRetentionMs: "-1"}, {KeyMaxCompactionLagMs: "0"},
		{KeyMinCompactionLagMs: "10", KeyMaxCompactionLagMs: "5"},
	} {
		if _, err := resolve(&d, bad); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%v accepted: %v", bad, err)
		}
	}
	d.TierDir = t.TempDir()
	err = ValidateConfigs(&d, map[string]string{KeyCleanupPolicy: "compact", KeyRemoteStorageEnable: "true"})
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "tiered") {
		t.Fatalf("compacted tiered topic: %v", err)
	}
	if err := ValidateConfigs(&d, map[string]string{KeyCleanupPolicy: "delete", KeyRemoteStorageEnable: "true"}); err != nil {
		t.Fatalf("tiered delete topic refused: %v", err)
	}
}
