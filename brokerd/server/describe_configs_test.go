package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/internal/testbroker"
)

// synonymsString renders synonyms as "SOURCE:name=value,..." for compact
// comparisons.
func synonymsString(syns []kadm.ConfigSynonym) string {
	var parts []string
	for _, s := range syns {
		v := "<nil>"
		if s.Value != nil {
			v = *s.Value
		}
		parts = append(parts, s.Source.String()+":"+s.Key+"="+v)
	}
	return strings.Join(parts, ",")
}

func configMap(t *testing.T, rcs kadm.ResourceConfigs, name string) map[string]kadm.Config {
	t.Helper()
	if len(rcs) != 1 || rcs[0].Name != name {
		t.Fatalf("resources: %+v, want one named %q", rcs, name)
	}
	if rcs[0].Err != nil {
		t.Fatalf("%q: %v (%s)", name, rcs[0].Err, rcs[0].ErrMessage)
	}
	out := map[string]kadm.Config{}
	for _, c := range rcs[0].Configs {
		out[c.Key] = c
	}
	return out
}

func value(c kadm.Config) string {
	if c.Value == nil {
		return "<nil>"
	}
	return *c.Value
}

// TestDescribeBrokerConfigsKafkaNames: a broker describes its own settings
// under Kafka's broker names; a flag the operator set is
// STATIC_BROKER_CONFIG, everything else DEFAULT_CONFIG; topic-level names
// do not appear; the cluster-default resource is empty.
func TestDescribeBrokerConfigsKafkaNames(t *testing.T) {
	dataDir := t.TempDir()
	b := testbroker.StartBroker(t, testbroker.WithDataDir(dataDir), testbroker.WithConfig(func(c *config.Config) {
		c.RetentionMs = 90 * time.Minute
		c.BrokerRack = "az-b"
	}))
	adm := kadm.NewClient(newClient(t, b.Addr()))
	ctx := ctxT(t)

	rcs, err := adm.DescribeBrokerConfigs(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	got := configMap(t, rcs, "1")
	for _, topicKey := range []string{"retention.ms", "segment.bytes", "cleanup.policy", "max.message.bytes"} {
		if _, ok := got[topicKey]; ok {
			t.Errorf("topic config %s listed for a broker", topicKey)
		}
	}
	static := kmsg.ConfigSourceStaticBrokerConfig
	def := kmsg.ConfigSourceDefaultConfig
	for name, want := range map[string]struct {
		value  string
		source kmsg.ConfigSource
		syns   string
	}{
		"log.retention.ms":          {"5400000", static, "STATIC_BROKER_CONFIG:log.retention.ms=5400000,DEFAULT_CONFIG:log.retention.ms=604800000"},
		"broker.rack":               {"az-b", static, "STATIC_BROKER_CONFIG:broker.rack=az-b"},
		"log.segment.bytes":         {"1073741824", def, "DEFAULT_CONFIG:log.segment.bytes=1073741824"},
		"message.max.bytes":         {"1048588", def, "DEFAULT_CONFIG:message.max.bytes=1048588"},
		"offsets.retention.minutes": {"10080", def, "DEFAULT_CONFIG:offsets.retention.minutes=10080"},
		"node.id":                   {"1", def, "DEFAULT_CONFIG:node.id=1"},
		"log.dirs":                  {dataDir, static, "STATIC_BROKER_CONFIG:log.dirs=" + dataDir + ",DEFAULT_CONFIG:log.dirs=./data"},
	} {
		c, ok := got[name]
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		if value(c) != want.value || c.Source != want.source || synonymsString(c.Synonyms) != want.syns {
			t.Errorf("%s = %s (%v) synonyms %s; want %s (%v) synonyms %s",
				name, value(c), c.Source, synonymsString(c.Synonyms), want.value, want.source, want.syns)
		}
	}

	// Cluster-wide dynamic defaults: Kafki has none, and that is no error.
	rcs, err = adm.DescribeBrokerConfigs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := configMap(t, rcs, ""); len(got) != 0 {
		t.Errorf("cluster-default broker resource lists %d configs: %v", len(got), got)
	}
}

// TestDescribeTopicConfigsBrokerSynonyms: a topic default supplied by a
// broker flag the operator set says STATIC_BROKER_CONFIG and names the
// broker setting in its synonyms; an override comes first; untouched
// defaults are DEFAULT_CONFIG.
func TestDescribeTopicConfigsBrokerSynonyms(t *testing.T) {
	b := testbroker.StartBroker(t, testbroker.WithConfig(func(c *config.Config) {
		c.RetentionMs = 2 * time.Hour
	}))
	mustCreate(t, b, "plain", nil)
	mustCreate(t, b, "over", map[string]string{"retention.ms": "60000", "segment.bytes": "1048576"})
	adm := kadm.NewClient(newClient(t, b.Addr()))
	ctx := ctxT(t)

	rcs, err := adm.DescribeTopicConfigs(ctx, "plain")
	if err != nil {
		t.Fatal(err)
	}
	plain := configMap(t, rcs, "plain")
	if c := plain["retention.ms"]; value(c) != "7200000" || c.Source != kmsg.ConfigSourceStaticBrokerConfig ||
		synonymsString(c.Synonyms) != "STATIC_BROKER_CONFIG:log.retention.ms=7200000,DEFAULT_CONFIG:log.retention.ms=604800000" {
		t.Errorf("plain retention.ms = %s (%v) synonyms %s", value(c), c.Source, synonymsString(c.Synonyms))
	}
	if c := plain["segment.bytes"]; value(c) != "1073741824" || c.Source != kmsg.ConfigSourceDefaultConfig ||
		synonymsString(c.Synonyms) != "DEFAULT_CONFIG:log.segment.bytes=1073741824" {
		t.Errorf("plain segment.bytes = %s (%v) synonyms %s", value(c), c.Source, synonymsString(c.Synonyms))
	}
	if c := plain["remote.storage.enable"]; value(c) != "false" || c.Source != kmsg.ConfigSourceDefaultConfig || len(c.Synonyms) != 0 {
		t.Errorf("plain remote.storage.enable = %s (%v) synonyms %s", value(c), c.Source, synonymsString(c.Synonyms))
	}

	rcs, err = adm.DescribeTopicConfigs(ctx, "over")
	if err != nil {
		t.Fatal(err)
	}
	over := configMap(t, rcs, "over")
	if c := over["retention.ms"]; value(c) != "60000" || c.Source != kmsg.ConfigSourceDynamicTopicConfig ||
		synonymsString(c.Synonyms) != "DYNAMIC_TOPIC_CONFIG:retention.ms=60000,STATIC_BROKER_CONFIG:log.retention.ms=7200000,DEFAULT_CONFIG:log.retention.ms=604800000" {
		t.Errorf("over retention.ms = %s (%v) synonyms %s", value(c), c.Source, synonymsString(c.Synonyms))
	}
	if c := over["segment.bytes"]; value(c) != "1048576" || c.Source != kmsg.ConfigSourceDynamicTopicConfig ||
		synonymsString(c.Synonyms) != "DYNAMIC_TOPIC_CONFIG:segment.bytes=1048576,DEFAULT_CONFIG:log.segment.bytes=1073741824" {
		t.Errorf("over segment.bytes = %s (%v) synonyms %s", value(c), c.Source, synonymsString(c.Synonyms))
	}
}

// TestDescribeConfigsRawSynonymsAndNames drives the request directly: types,
// read-only flags, no synonyms unless asked, ConfigNames filtering with an
// unknown name left out, and other brokers refused.
func TestDescribeConfigsRawSynonymsAndNames(t *testing.T) {
	b := testbroker.StartBroker(t, testbroker.WithConfig(func(c *config.Config) {
		c.RetentionMs = 3 * time.Hour
	}))
	mustCreate(t, b, "raw", nil)
	c := dialRaw(t, b.Addr())

	describe := func(synonyms bool, typ kmsg.ConfigResourceType, name string, names ...string) kmsg.DescribeConfigsResponseResource {
		t.Helper()
		req := kmsg.NewPtrDescribeConfigsRequest()
		req.SetVersion(4)
		req.IncludeSynonyms = synonyms
		res := kmsg.NewDescribeConfigsRequestResource()
		res.ResourceType, res.ResourceName, res.ConfigNames = typ, name, names
		req.Resources = append(req.Resources, res)
		resp := c.roundTrip(req, 7).(*kmsg.DescribeConfigsResponse)
		if len(resp.Resources) != 1 {
			t.Fatalf("%d resources", len(resp.Resources))
		}
		return resp.Resources[0]
	}

	r := describe(true, kmsg.ConfigResourceTypeTopic, "raw", "retention.ms", "segment.bytes", "no.such.config")
	if r.ErrorCode != 0 || len(r.Configs) != 2 {
		t.Fatalf("topic with names: code %d, %d configs %+v; want 2 (the unknown name left out)", r.ErrorCode, len(r.Configs), r.Configs)
	}
	ret := r.Configs[0]
	if ret.Name != "retention.ms" || *ret.Value != "10800000" || ret.Source != kmsg.ConfigSourceStaticBrokerConfig ||
		ret.ReadOnly || ret.ConfigType != kmsg.ConfigTypeLong || len(ret.ConfigSynonyms) != 2 ||
		ret.ConfigSynonyms[0].Name != "log.retention.ms" || ret.ConfigSynonyms[0].Source != kmsg.ConfigSourceStaticBrokerConfig ||
		ret.ConfigSynonyms[1].Name != "log.retention.ms" || ret.ConfigSynonyms[1].Source != kmsg.ConfigSourceDefaultConfig ||
		*ret.ConfigSynonyms[1].Value != "604800000" {
		t.Errorf("retention.ms: %+v", ret)
	}
	if seg := r.Configs[1]; seg.Name != "segment.bytes" || seg.ConfigType != kmsg.ConfigTypeInt || seg.Source != kmsg.ConfigSourceDefaultConfig {
		t.Errorf("segment.bytes: %+v", seg)
	}

	r = describe(false, kmsg.ConfigResourceTypeTopic, "raw", "retention.ms")
	if len(r.Configs) != 1 || len(r.Configs[0].ConfigSynonyms) != 0 {
		t.Errorf("synonyms without IncludeSynonyms: %+v", r.Configs)
	}

	r = describe(true, kmsg.ConfigResourceTypeBroker, "1", "log.retention.ms", "auto.create.topics.enable", "retention.ms")
	if r.ErrorCode != 0 || len(r.Configs) != 2 {
		t.Fatalf("broker with names: code %d, %+v; want log.retention.ms and auto.create.topics.enable only", r.ErrorCode, r.Configs)
	}
	for _, cfg := range r.Configs {
		if !cfg.ReadOnly {
			t.Errorf("%s not read-only", cfg.Name)
		}
		switch cfg.Name {
		case "auto.create.topics.enable":
			if cfg.ConfigType != kmsg.ConfigTypeBoolean || *cfg.Value != "true" || cfg.Source != kmsg.ConfigSourceDefaultConfig {
				t.Errorf("auto.create.topics.enable: %+v", cfg)
			}
		case "log.retention.ms":
			if cfg.ConfigType != kmsg.ConfigTypeLong || *cfg.Value != "10800000" || cfg.Source != kmsg.ConfigSourceStaticBrokerConfig {
				t.Errorf("log.retention.ms: %+v", cfg)
			}
		}
	}

	r = describe(true, kmsg.ConfigResourceTypeBroker, "")
	if r.ErrorCode != 0 || len(r.Configs) != 0 {
		t.Errorf("cluster default: code %d, %d configs", r.ErrorCode, len(r.Configs))
	}
	if r = describe(true, kmsg.ConfigResourceTypeBroker, "2"); r.ErrorCode != 42 /* INVALID_REQUEST */ {
		t.Errorf("other broker: code %d, want INVALID_REQUEST", r.ErrorCode)
	}
}
