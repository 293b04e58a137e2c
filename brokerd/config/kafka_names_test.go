package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestKafkaSettingsSortedAndUnique(t *testing.T) {
	// KafkaConfig binary-searches the table.
	if !slices.IsSortedFunc(kafkaSettings, func(a, b kafkaSetting) int { return strings.Compare(a.name, b.name) }) {
		t.Fatal("kafkaSettings is not sorted by name")
	}
	for i := 1; i < len(kafkaSettings); i++ {
		if kafkaSettings[i].name == kafkaSettings[i-1].name {
			t.Fatalf("%s listed twice", kafkaSettings[i].name)
		}
	}
	for _, s := range kafkaSettings {
		if s.kind == "" {
			t.Errorf("%s has no kind", s.name)
		}
	}
}

func TestKafkaConfigsDefaults(t *testing.T) {
	c := Default()
	got := map[string]KafkaConfig{}
	for _, k := range c.KafkaConfigs() {
		if k.Set() {
			t.Errorf("%s: %q differs from the default %q on Default()", k.Name, k.Value, k.Default)
		}
		got[k.Name] = k
	}
	want := map[string]string{
		"log.retention.ms":                 "604800000",
		"log.segment.bytes":                "1073741824",
		"log.roll.ms":                      "604800000",
		"message.max.bytes":                "1048588",
		"log.flush.interval.ms":            "9223372036854775807",
		"offsets.retention.minutes":        "10080",
		"group.min.session.timeout.ms":     "6000",
		"log.retention.check.interval.ms":  "300000",
		"offsets.topic.replication.factor": "3",
		"remote.log.storage.system.enable": "false",
		"node.id":                          "1",
		"log.dirs":                         "./data",
	}
	for name, v := range want {
		if got[name].Value != v {
			t.Errorf("%s = %q, want %q", name, got[name].Value, v)
		}
	}
	if got["log.segment.bytes"].Kind != KindInt || got["log.retention.ms"].Kind != KindLong || got["auto.create.topics.enable"].Kind != KindBoolean {
		t.Errorf("kinds: %+v", got)
	}
	// Unset optional settings are not listed.
	for _, name := range []string{"broker.rack", "advertised.listeners"} {
		if _, ok := got[name]; ok {
			t.Errorf("%s listed though unset", name)
		}
	}
}

func TestKafkaConfigsSetByOperator(t *testing.T) {
	c := Default()
	c.RetentionMs = 90 * time.Minute
	c.BrokerRack = "az-1"
	c.FlushIntervalMs = 2 * time.Second
	c.TierDir = "/tier"

	k, ok := c.KafkaConfig("log.retention.ms")
	if !ok || k.Value != "5400000" || k.Default != "604800000" || !k.Set() {
		t.Errorf("log.retention.ms = %+v, %v", k, ok)
	}
	if k, ok := c.KafkaConfig("broker.rack"); !ok || k.Value != "az-1" || !k.Set() || k.HasDefault {
		t.Errorf("broker.rack = %+v, %v", k, ok)
	}
	if k, _ := c.KafkaConfig("log.flush.interval.ms"); k.Value != "2000" || !k.Set() {
		t.Errorf("log.flush.interval.ms = %+v", k)
	}
	if k, _ := c.KafkaConfig("remote.log.storage.system.enable"); k.Value != "true" || !k.Set() {
		t.Errorf("remote.log.storage.system.enable = %+v", k)
	}
	if k, _ := c.KafkaConfig("log.segment.bytes"); k.Set() || !k.HasDefault {
		t.Errorf("log.segment.bytes reported set: %+v", k)
	}
	c.RetentionMs = -time.Second
	if k, _ := c.KafkaConfig("log.retention.ms"); k.Value != "-1" {
		t.Errorf("negative retention renders %q, want -1", k.Value)
	}
	if _, ok := c.KafkaConfig("retention.ms"); ok {
		t.Error("topic name retention.ms found among broker settings")
	}
	if _, ok := c.KafkaConfig("max.partitions.per.topic"); ok {
		t.Error("Kafki-only setting listed under a Kafka name")
	}
}
