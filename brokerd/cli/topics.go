package cli

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// maxTopicNameLen is Kafka's limit on topic name length.
const maxTopicNameLen = 249

// validateTopicName applies Kafka's topic naming rules so create fails
// before connecting rather than with a broker error.
func validateTopicName(name string) error {
	switch {
	case name == "":
		return usagef("--topic is required")
	case name == "." || name == "..":
		return usagef("--topic %q is not a valid topic name", name)
	case len(name) > maxTopicNameLen:
		return usagef("--topic is %d characters long; the limit is %d", len(name), maxTopicNameLen)
	}
	for _, r := range name {
		ok := r == '.' || r == '_' || r == '-' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !ok {
			return usagef("--topic %q contains %q; topic names use only letters, digits, '.', '_' and '-'", name, r)
		}
	}
	return nil
}

func requireTopic(topic string) error {
	if topic == "" {
		return usagef("--topic is required")
	}
	return nil
}

func runTopicsCreate(ctx context.Context, args []string, env Env) error {
	c := newCommand("topics create", "topics create --topic T [flags]",
		"Create a topic. Partitions and replication factor default to the broker's defaults.",
		`  kafki topics create --topic orders
  kafki topics create --topic orders --partitions 6 --replication-factor 3
  kafki topics create --topic audit --config retention.ms=604800000 --config cleanup.policy=delete
  kafki topics create --topic orders --if-not-exists`)
	var conn connFlags
	conn.register(c, env.Getenv)
	topic := c.fs.String("topic", "", "Name of the topic to create (required).")
	partitions := c.fs.Int("partitions", -1, "Number of partitions; -1 uses the broker's default.")
	replication := c.fs.Int("replication-factor", -1, "Number of replicas of each partition; -1 uses the broker's default.")
	var configs stringList
	c.fs.Var(&configs, "config", "Topic config as key=value; repeat for several.")
	ifNotExists := c.fs.Bool("if-not-exists", false, "Succeed without change if the topic already exists.")
	if err := c.parse(args, env.Stdout); err != nil {
		return err
	}
	if err := validateTopicName(*topic); err != nil {
		return err
	}
	if *partitions == 0 || *partitions < -1 || *partitions > math.MaxInt32 {
		return usagef("--partitions must be at least 1 (or -1 for the broker default), got %d", *partitions)
	}
	if *replication == 0 || *replication < -1 || *replication > math.MaxInt16 {
		return usagef("--replication-factor must be between 1 and %d (or -1 for the broker default), got %d", math.MaxInt16, *replication)
	}
	cfg, err := parseConfigs(configs)
	if err != nil {
		return err
	}
	s, err := conn.connect(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	opCtx, cancel := context.WithTimeout(ctx, conn.timeout)
	defer cancel()
	resps, err := s.adm.CreateTopics(opCtx, int32(*partitions), int16(*replication), cfg, *topic)
	if err != nil {
		return fmt.Errorf("create topic %q: %w", *topic, s.wrap(err, ""))
	}
	r, err := resps.On(*topic, nil)
	if err == nil {
		err = r.Err
	}
	switch {
	case err == nil:
	case *ifNotExists && errors.Is(err, kerr.TopicAlreadyExists):
		return nil
	default:
		return fmt.Errorf("create topic %q: %w", *topic, s.wrap(err, r.ErrMessage))
	}
	_, err = fmt.Fprintf(env.Stdout, "Created topic %s.\n", *topic)
	return err
}

func runTopicsList(ctx context.Context, args []string, env Env) error {
	c := newCommand("topics list", "topics list [flags]",
		"Print the name of every topic, one per line, sorted.",
		`  kafki topics list
  kafki topics list --exclude-internal --bootstrap-server broker1:9092`)
	var conn connFlags
	conn.register(c, env.Getenv)
	excludeInternal := c.fs.Bool("exclude-internal", false, "Leave out internal topics such as __consumer_offsets.")
	if err := c.parse(args, env.Stdout); err != nil {
		return err
	}
	s, err := conn.connect(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	details, err := listTopics(ctx, s, *excludeInternal)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(env.Stdout)
	for _, name := range details.Names() {
		fmt.Fprintln(w, name)
	}
	return w.Flush()
}

// listTopics returns metadata for all topics within the session timeout.
func listTopics(ctx context.Context, s *session, excludeInternal bool, topics ...string) (kadm.TopicDetails, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	details, err := s.adm.ListTopicsWithInternal(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", s.wrap(err, ""))
	}
	if excludeInternal {
		details.FilterInternal()
	}
	return details, nil
}

func runTopicsDescribe(ctx context.Context, args []string, env Env) error {
	c := newCommand("topics describe", "topics describe [--topic T] [flags]",
		"Show each topic's id, partition count, replication factor and non-default configs,\n"+
			"then one line per partition with its leader, replicas and in-sync replicas\n"+
			"(tab separated, like kafka-topics.sh --describe). Without --topic, describes all topics.",
		`  kafki topics describe --topic orders
  kafki topics describe --exclude-internal`)
	var conn connFlags
	conn.register(c, env.Getenv)
	topic := c.fs.String("topic", "", "Topic to describe; all topics when omitted.")
	excludeInternal := c.fs.Bool("exclude-internal", false, "Leave out internal topics when describing all topics.")
	if err := c.parse(args, env.Stdout); err != nil {
		return err
	}
	s, err := conn.connect(ctx)
	if err != nil {
		return err
	}
	defer s.close()

	var named []string
	if *topic != "" {
		named = []string{*topic}
	}
	details, err := listTopics(ctx, s, *excludeInternal && *topic == "", named...)
	if err != nil {
		return err
	}
	if *topic != "" {
		if d, ok := details[*topic]; !ok || isUnknownTopic(d.Err) {
			return fmt.Errorf("%w %q", ErrUnknownTopic, *topic)
		}
	}
	topics := details.Sorted()
	for _, d := range topics {
		if d.Err != nil {
			return fmt.Errorf("describe topic %q: %w", d.Topic, s.wrap(d.Err, ""))
		}
	}
	configs, err := describeConfigs(ctx, s, details.Names())
	if err != nil {
		// Partition layout is still worth showing when the broker cannot
		// describe configs (older or partial implementations).
		fmt.Fprintf(env.Stderr, "kafki topics describe: warning: configs not shown: %s\n", oneLine(err.Error()))
	}
	w := bufio.NewWriter(env.Stdout)
	for _, d := range topics {
		writeTopicDescription(w, d, configs[d.Topic])
	}
	return w.Flush()
}

// describeConfigs returns, per topic, the configs set on the topic itself
// (not broker defaults), formatted as sorted k=v strings.
func describeConfigs(ctx context.Context, s *session, topics []string) (map[string][]string, error) {
	if len(topics) == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	rcs, err := s.adm.DescribeTopicConfigs(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("describe configs: %w", s.wrap(err, ""))
	}
	out := make(map[string][]string, len(rcs))
	for _, rc := range rcs {
		if rc.Err != nil {
			return nil, fmt.Errorf("describe configs of %q: %w", rc.Name, s.wrap(rc.Err, rc.ErrMessage))
		}
		var kvs []string
		for _, cfg := range rc.Configs {
			if cfg.Source != kmsg.ConfigSourceDynamicTopicConfig {
				continue
			}
			v := cfg.MaybeValue()
			if cfg.Sensitive {
				v = "(sensitive)"
			}
			kvs = append(kvs, cfg.Key+"="+v)
		}
		sort.Strings(kvs)
		out[rc.Name] = kvs
	}
	return out, nil
}

// writeTopicDescription writes one topic in kafka-topics --describe layout.
func writeTopicDescription(w *bufio.Writer, d kadm.TopicDetail, configs []string) {
	parts := d.Partitions.Sorted()
	replicationFactor := 0
	if len(parts) > 0 {
		replicationFactor = len(parts[0].Replicas)
	}
	fmt.Fprintf(w, "Topic: %s\tTopicId: %s\tPartitionCount: %d\tReplicationFactor: %d\tConfigs: %s\n",
		d.Topic, base64.RawURLEncoding.EncodeToString(d.ID[:]), len(parts), replicationFactor, strings.Join(configs, ","))
	for _, p := range parts {
		leader := "none"
		if p.Leader >= 0 {
			leader = strconv.Itoa(int(p.Leader))
		}
		fmt.Fprintf(w, "\tTopic: %s\tPartition: %d\tLeader: %s\tReplicas: %s\tIsr: %s",
			d.Topic, p.Partition, leader, joinInt32s(p.Replicas), joinInt32s(p.ISR))
		if len(p.OfflineReplicas) > 0 {
			fmt.Fprintf(w, "\tOffline: %s", joinInt32s(p.OfflineReplicas))
		}
		if p.Err != nil {
			fmt.Fprintf(w, "\tError: %s", oneLine(p.Err.Error()))
		}
		w.WriteByte('\n')
	}
}

func joinInt32s(xs []int32) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.Itoa(int(x))
	}
	return strings.Join(parts, ",")
}

func runTopicsDelete(ctx context.Context, args []string, env Env) error {
	c := newCommand("topics delete", "topics delete --topic T [flags]",
		"Delete a topic and all its records.",
		`  kafki topics delete --topic orders
  kafki topics delete --topic orders --if-exists`)
	var conn connFlags
	conn.register(c, env.Getenv)
	topic := c.fs.String("topic", "", "Topic to delete (required).")
	ifExists := c.fs.Bool("if-exists", false, "Succeed without change if the topic does not exist.")
	if err := c.parse(args, env.Stdout); err != nil {
		return err
	}
	if err := requireTopic(*topic); err != nil {
		return err
	}
	s, err := conn.connect(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	opCtx, cancel := context.WithTimeout(ctx, conn.timeout)
	defer cancel()
	resps, err := s.adm.DeleteTopics(opCtx, *topic)
	if err != nil {
		return fmt.Errorf("delete topic %q: %w", *topic, s.wrap(err, ""))
	}
	r, err := resps.On(*topic, nil)
	if err == nil {
		err = r.Err
	}
	switch {
	case err == nil:
		return nil
	case isUnknownTopic(err):
		if *ifExists {
			return nil
		}
		return fmt.Errorf("%w %q", ErrUnknownTopic, *topic)
	default:
		return fmt.Errorf("delete topic %q: %w", *topic, s.wrap(err, r.ErrMessage))
	}
}

func runTopicsAlter(ctx context.Context, args []string, env Env) error {
	c := newCommand("topics alter", "topics alter --topic T [--partitions N] [--config k=v ...] [--delete-config k ...]",
		"Raise a topic's partition count (partitions can only be added) and set or remove\n"+
			"topic configs. Configs not named are left as they are.",
		`  kafki topics alter --topic orders --partitions 12
  kafki topics alter --topic orders --config retention.ms=86400000
  kafki topics alter --topic orders --delete-config retention.ms`)
	var conn connFlags
	conn.register(c, env.Getenv)
	topic := c.fs.String("topic", "", "Topic to alter (required).")
	partitions := c.fs.Int("partitions", 0, "New total partition count; must be larger than the current one.")
	var setConfigs, deleteConfigs stringList
	c.fs.Var(&setConfigs, "config", "Topic config to set, as key=value; repeat for several.")
	c.fs.Var(&deleteConfigs, "delete-config", "Topic config to remove (back to the default); repeat for several.")
	if err := c.parse(args, env.Stdout); err != nil {
		return err
	}
	if err := requireTopic(*topic); err != nil {
		return err
	}
	if c.isSet("partitions") && (*partitions < 1 || *partitions > math.MaxInt32) {
		return usagef("--partitions must be at least 1, got %d", *partitions)
	}
	alters, err := configAlterations(setConfigs, deleteConfigs)
	if err != nil {
		return err
	}
	if !c.isSet("partitions") && len(alters) == 0 {
		return usagef("nothing to alter: give --partitions, --config or --delete-config")
	}
	s, err := conn.connect(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	opCtx, cancel := context.WithTimeout(ctx, conn.timeout)
	defer cancel()

	if c.isSet("partitions") {
		// Checked here because brokers word "cannot shrink" confusingly.
		current, err := s.topicPartitions(ctx, *topic)
		if err != nil {
			return err
		}
		if *partitions <= current {
			return fmt.Errorf("topic %q already has %d partitions; --partitions must be larger (partitions can be added, not removed)", *topic, current)
		}
		resps, err := s.adm.UpdatePartitions(opCtx, *partitions, *topic)
		if err != nil {
			return fmt.Errorf("set partitions of %q: %w", *topic, s.wrap(err, ""))
		}
		r, err := resps.On(*topic, nil)
		if err == nil {
			err = r.Err
		}
		if err != nil {
			if isUnknownTopic(err) {
				return fmt.Errorf("%w %q", ErrUnknownTopic, *topic)
			}
			return fmt.Errorf("set partitions of %q to %d: %w", *topic, *partitions, s.wrap(err, r.ErrMessage))
		}
	}
	if len(alters) > 0 {
		resps, err := s.adm.AlterTopicConfigs(opCtx, alters, *topic)
		if err != nil {
			return fmt.Errorf("alter configs of %q: %w", *topic, s.wrap(err, ""))
		}
		r, err := resps.On(*topic, nil)
		if err == nil {
			err = r.Err
		}
		if err != nil {
			if isUnknownTopic(err) {
				return fmt.Errorf("%w %q", ErrUnknownTopic, *topic)
			}
			return fmt.Errorf("alter configs of %q: %w", *topic, s.wrap(err, r.ErrMessage))
		}
	}
	return nil
}

// configAlterations turns --config and --delete-config values into
// incremental alterations, rejecting a key that is both set and deleted.
func configAlterations(set, del []string) ([]kadm.AlterConfig, error) {
	cfg, err := parseConfigs(set)
	if err != nil {
		return nil, err
	}
	keys, err := parseConfigKeys(del)
	if err != nil {
		return nil, err
	}
	alters := make([]kadm.AlterConfig, 0, len(cfg)+len(keys))
	for _, k := range sortedKeys(cfg) {
		alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: cfg[k]})
	}
	for _, k := range keys {
		if _, both := cfg[k]; both {
			return nil, usagef("config %q is both set with --config and removed with --delete-config", k)
		}
		alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
	}
	return alters, nil
}

func sortedKeys(m map[string]*string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
