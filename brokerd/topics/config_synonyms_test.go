package topics

import (
	"testing"

	"github.com/kafki/kafki/brokerd/config"
)

// Every key's broker setting exists in config's Kafka-name table, and the
// default it renders is one the key itself accepts.
func TestBrokerDefaultsExist(t *testing.T) {
	d := config.Default()
	for key, sp := range specs {
		if sp.broker == "" {
			if key != KeyRemoteStorageEnable {
				t.Errorf("%s has no broker setting", key)
			}
			continue
		}
		b, ok := d.KafkaConfig(sp.broker)
		if !ok {
			t.Errorf("%s: broker setting %s unknown to config", key, sp.broker)
			continue
		}
		if b.Kind != sp.kind {
			t.Errorf("%s is %s but %s is %s", key, sp.kind, sp.broker, b.Kind)
		}
		var s Settings
		if err := sp.apply(&s, b.Value); err != nil {
			t.Errorf("%s rejects the default %s=%s: %v", key, sp.broker, b.Value, err)
		}
	}
}

func TestEffectiveConfigsStaticBrokerSource(t *testing.T) {
	d := config.Default()
	d.SegmentBytes = 1 << 20
	byName := map[string]ConfigEntry{}
	for _, e := range EffectiveConfigs(&d, map[string]string{KeySegmentMs: "1000"}) {
		byName[e.Name] = e
	}
	seg := byName[KeySegmentBytes]
	if seg.Value != "1048576" || seg.Source != SourceStatic || len(seg.Synonyms) != 2 ||
		seg.Synonyms[0] != (ConfigSynonym{"log.segment.bytes", "1048576", SourceStatic}) ||
		seg.Synonyms[1] != (ConfigSynonym{"log.segment.bytes", "1073741824", SourceDefault}) {
		t.Errorf("segment.bytes: %+v", seg)
	}
	roll := byName[KeySegmentMs]
	want := []ConfigSynonym{{KeySegmentMs, "1000", SourceTopic}, {"log.roll.ms", "604800000", SourceDefault}}
	if roll.Value != "1000" || roll.Source != SourceTopic || len(roll.Synonyms) != 2 || roll.Synonyms[0] != want[0] || roll.Synonyms[1] != want[1] {
		t.Errorf("segment.ms: %+v, want synonyms %+v", roll, want)
	}
	if r := byName[KeyRetentionMs]; r.Source != SourceDefault || len(r.Synonyms) != 1 {
		t.Errorf("retention.ms: %+v", r)
	}
	if BrokerConfigName(KeyMaxMessageBytes) != "message.max.bytes" || BrokerConfigName(KeyRemoteStorageEnable) != "" {
		t.Error("BrokerConfigName")
	}
}
