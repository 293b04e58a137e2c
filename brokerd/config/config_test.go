package config

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaultsValidate(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
}

func TestFlagsBeatEnvBeatDefaults(t *testing.T) {
	var out bytes.Buffer
	c, err := Load([]string{"--log.segment.bytes=2048", "--log.roll=1h"},
		env(map[string]string{"KAFKI_LOG_SEGMENT_BYTES": "4096", "KAFKI_NUM_PARTITIONS": "3", "KAFKI_LOG_FLUSH_ON_ACK": "true"}), &out)
	if err != nil {
		t.Fatal(err)
	}
	if c.SegmentBytes != 2048 || c.DefaultPartitions != 3 || !c.FlushOnAck || c.SegmentMs != time.Hour {
		t.Fatalf("got %+v", c)
	}
}

func TestInvalidSettingsNameTheSetting(t *testing.T) {
	cases := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--num.partitions=0"}, nil, "num.partitions"},
		{[]string{"--listen=nonsense"}, nil, "listen"},
		{[]string{"--log.level=loud"}, nil, "log.level"},
		{[]string{"--log.message.timestamp.type=Now"}, nil, "log.message.timestamp.type"},
		{[]string{"--log.retention.bytes=-7"}, nil, "log.retention.bytes"},
		{[]string{"--socket.request.max.bytes=100"}, nil, "socket.request.max.bytes"},
		{[]string{"--advertised.listener=:9092"}, nil, "advertised.listener"},
		{nil, map[string]string{"KAFKI_NODE_ID": "x"}, "KAFKI_NODE_ID"},
		{[]string{"--no.such.flag=1"}, nil, "no.such.flag"},
		{[]string{"--offsets.topic.num.partitions=0"}, nil, "offsets.topic.num.partitions"},
		{[]string{"--group.min.session.timeout=10s", "--group.max.session.timeout=5s"}, nil, "session.timeout"},
		{[]string{"--group.max.size=0"}, nil, "group.max.size"},
		{[]string{"--offsets.retention=-1m"}, nil, "offsets.retention"},
		{[]string{"--memory.limit=1000"}, nil, "memory.limit"},
		{[]string{"--metadata.store=zookeeper"}, nil, "metadata.store"},
		{[]string{"--metadata.store=dynamodb", "--metadata.table="}, nil, "metadata.table"},
		{[]string{"stray"}, nil, "stray"},
		{[]string{"--tier.dir=/x", "--tier.s3.bucket=b"}, nil, "tier.s3.bucket"},
		{[]string{"--tier.s3.prefix=kafki/"}, nil, "needs tier.s3.bucket"},
		{[]string{"--replica.selector.class=LeaderSelector"}, nil, "replica.selector.class"},
		{[]string{"--tier.cache.bytes=-1"}, nil, "tier.cache.bytes"},
		{[]string{"--tier.sweep.interval=0s"}, nil, "tier.sweep.interval"},
	}
	for _, tc := range cases {
		var out bytes.Buffer
		_, err := Load(tc.args, env(tc.env), &out)
		if err == nil {
			t.Errorf("%v %v: accepted", tc.args, tc.env)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %q should be one line naming %s", tc.args, err, tc.want)
		}
	}
}

func TestHelpListsEveryFlagWithItsEnvVar(t *testing.T) {
	var out bytes.Buffer
	_, err := Load([]string{"--help"}, env(nil), &out)
	if !errors.Is(err, ErrHelp) {
		t.Fatalf("err %v", err)
	}
	for _, want := range []string{"--log.flush.on.ack", "KAFKI_LOG_FLUSH_ON_ACK", "--data.dir", "KAFKI_DATA_DIR", "--listen", "KAFKI_LISTEN"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %s", want)
		}
	}
}

func TestTieringOffByDefault(t *testing.T) {
	c := Default()
	if c.TieringEnabled() {
		t.Fatal("tiering on by default")
	}
	var out bytes.Buffer
	c, err := Load([]string{"--tier.dir=" + t.TempDir(), "--tier.cache.bytes=1024"}, env(map[string]string{"KAFKI_TIER_SWEEP_INTERVAL": "7s"}), &out)
	if err != nil {
		t.Fatal(err)
	}
	if !c.TieringEnabled() || c.TierCacheBytes != 1024 || c.TierSweepInterval != 7*time.Second {
		t.Fatalf("got %+v", c)
	}
}
