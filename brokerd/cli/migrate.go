package cli

// kafki migrate plan: what moving a Kafka cluster into Kafki would take,
// read from the source cluster (any Kafka-compatible one): its topics,
// their partitions, replication factors, sizes and the configs set on
// them (those MirrorMaker 2 carries over, and a person must check Kafki
// serves), and the kafki commands that would create the same topics.

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const migrateHelp = `Usage: kafki migrate <plan> [flags]

Plan moving a Kafka cluster into Kafki (README.md, "Migrating from Kafka").
Run 'kafki migrate plan --help' for its flags.
`

// planTopic is one topic of the source cluster as the plan shows it.
type planTopic struct {
	name        string
	partitions  int
	replication int
	bytes       int64 // -1: unknown (DescribeLogDirs failed)
	configs     []string
}

func runMigratePlan(ctx context.Context, args []string, env Env) error {
	c := newCommand("migrate plan", "migrate plan --source host:port [--include-internal] [flags]",
		"Read the source cluster's topics and print, per topic, its partitions, replication\n"+
			"factor, size on disk (all replicas) and the configs set on the topic (not defaults),\n"+
			"then a total and the 'kafki topics create' commands that make the same topics on\n"+
			"Kafki. MirrorMaker 2 creates them by itself; the plan shows what it will copy.",
		`  kafki migrate plan --source kafka1:9092
  kafki migrate plan --source kafka1:9092,kafka2:9092 --include-internal`)
	var conn connFlags
	c.fs.StringVar(&conn.bootstrap, "source", "", "Comma-separated host:port list of the source cluster's brokers (required).")
	c.fs.DurationVar(&conn.timeout, "timeout", defaultTimeout,
		"How long to wait for the source cluster to answer before giving up (e.g. 500ms, 10s).")
	conn.registerSASL(c, env.Getenv) // users.go
	conn.registerTLS(c, env.Getenv)  // security.go: a source cluster on SSL or SASL_SSL
	includeInternal := c.fs.Bool("include-internal", false, "Also plan internal topics such as __consumer_offsets.")
	if err := c.parse(args, env.Stdout); err != nil {
		return err
	}
	if strings.TrimSpace(conn.bootstrap) == "" {
		return usagef("--source is required")
	}
	s, err := conn.connect(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	topics, meta, err := readPlan(ctx, s, *includeInternal)
	if err != nil {
		return err
	}
	return writeMigratePlan(env.Stdout, meta, topics)
}

// readPlan reads the source cluster's topics, configs and sizes.
func readPlan(ctx context.Context, s *session, includeInternal bool) ([]planTopic, kadm.Metadata, error) {
	rctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	meta, err := s.adm.Metadata(rctx)
	if err != nil {
		return nil, meta, fmt.Errorf("read the source's topics: %w", s.wrap(err, ""))
	}
	if !includeInternal {
		meta.Topics.FilterInternal()
	}
	names := meta.Topics.Names()
	sort.Strings(names)
	if len(names) == 0 {
		return nil, meta, nil
	}
	rcs, err := s.adm.DescribeTopicConfigs(rctx, names...)
	if err != nil {
		return nil, meta, fmt.Errorf("read the source's topic configs: %w", s.wrap(err, ""))
	}
	sizes := map[string]int64{}
	dirs, dirsErr := s.adm.DescribeAllLogDirs(rctx, nil)
	if dirsErr == nil {
		for _, bds := range dirs {
			bds.EachPartition(func(p kadm.DescribedLogDirPartition) { sizes[p.Topic] += p.Size })
		}
	}
	var out []planTopic
	for _, name := range names {
		d := meta.Topics[name]
		if d.Err != nil {
			return nil, meta, fmt.Errorf("read topic %q: %w", name, d.Err)
		}
		pt := planTopic{name: name, partitions: len(d.Partitions), bytes: -1}
		for _, p := range d.Partitions {
			pt.replication = max(pt.replication, len(p.Replicas))
		}
		if dirsErr == nil {
			pt.bytes = sizes[name]
		}
		rc, err := rcs.On(name, nil)
		if err != nil {
			return nil, meta, fmt.Errorf("configs of topic %q: %w", name, err)
		}
		if rc.Err != nil {
			return nil, meta, fmt.Errorf("configs of topic %q: %w", name, rc.Err)
		}
		for _, cfg := range rc.Configs {
			if cfg.Source == kmsg.ConfigSourceDynamicTopicConfig {
				pt.configs = append(pt.configs, cfg.Key+"="+cfg.MaybeValue())
			}
		}
		sort.Strings(pt.configs)
		out = append(out, pt)
	}
	return out, meta, nil
}

func writeMigratePlan(out io.Writer, meta kadm.Metadata, topics []planTopic) error {
	var partitions, replicas int
	var bytes int64
	for _, t := range topics {
		partitions += t.partitions
		replicas += t.partitions * t.replication
		if t.bytes > 0 {
			bytes += t.bytes
		}
	}
	fmt.Fprintf(out, "Source cluster %s: %d brokers, %d topics, %d partitions, %d replicas, %s on disk\n\n",
		meta.Cluster, len(meta.Brokers), len(topics), partitions, replicas, humanBytes(bytes))
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "TOPIC\tPARTITIONS\tREPLICATION\tSIZE\tCONFIGS (non-default)")
	for _, t := range topics {
		size := "?"
		if t.bytes >= 0 {
			size = humanBytes(t.bytes)
		}
		cfg := strings.Join(t.configs, ",")
		if cfg == "" {
			cfg = "-"
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%s\n", t.name, t.partitions, t.replication, size, cfg)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	if len(topics) == 0 {
		return nil
	}
	fmt.Fprintf(out, "\nThe same topics on Kafki (MirrorMaker 2 creates them itself):\n")
	for _, t := range topics {
		line := "  kafki topics create --topic " + t.name + " --partitions " + strconv.Itoa(t.partitions) +
			" --replication-factor " + strconv.Itoa(t.replication)
		for _, c := range t.configs {
			line += " --config " + c
		}
		fmt.Fprintln(out, line)
	}
	return nil
}

// humanBytes renders n in B, KB, MB, GB (powers of 1000).
func humanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, suffix := float64(n), []string{"KB", "MB", "GB", "TB", "PB"}
	i := -1
	for v >= unit && i < len(suffix)-1 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %s", v, suffix[i])
}
