package cli

// kafki cluster describe: the brokers of a cluster, which one is the
// controller, and for every partition its leader, replicas and in-sync
// replicas, flagged when under-replicated or offline. One Metadata request
// answers all of it, so the view is one broker's at one moment.

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/twmb/franz-go/pkg/kadm"
)

const clusterHelp = `Usage: kafki cluster <describe> [flags]

Inspect a cluster: brokers, controller and partition health.
Run 'kafki cluster describe --help' for its flags.
`

func runClusterDescribe(ctx context.Context, args []string, env Env) error {
	c := newCommand("cluster describe", "cluster describe [--topic T ...] [--include-internal] [flags]",
		"Print the cluster id and controller, a table of brokers, a table of partitions\n"+
			"(leader, leader epoch, replicas, in-sync replicas, and flags: under-replicated when\n"+
			"the ISR is smaller than the replica set, offline when there is no leader), then a\n"+
			"summary line. Every row names its topic, so the output can be grepped.",
		`  kafki cluster describe
  kafki cluster describe --topic orders --bootstrap-server broker1:9092
  kafki cluster describe | grep under-replicated`)
	var conn connFlags
	conn.register(c, env.Getenv)
	var topics stringList
	c.fs.Var(&topics, "topic", "Only this topic; repeat for several (default: every topic).")
	includeInternal := c.fs.Bool("include-internal", false, "Also show internal topics such as __consumer_offsets.")
	if err := c.parse(args, env.Stdout); err != nil {
		return err
	}
	for _, t := range topics {
		if err := requireTopic(t); err != nil {
			return err
		}
	}
	s, err := conn.connect(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	mctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var m kadm.Metadata
	if len(topics) == 0 {
		m, err = s.adm.Metadata(mctx)
	} else {
		m, err = s.adm.Metadata(mctx, topics...)
	}
	if err != nil {
		return fmt.Errorf("describe cluster: %w", s.wrap(err, ""))
	}
	for _, t := range topics {
		if d, ok := m.Topics[t]; !ok || isUnknownTopic(d.Err) {
			return fmt.Errorf("%w %q", ErrUnknownTopic, t)
		}
	}
	// Named topics are shown even when internal: asking for one by name
	// is asking to see it.
	if len(topics) == 0 && !*includeInternal {
		m.Topics.FilterInternal()
	}
	return writeCluster(env.Stdout, m)
}

// clusterSummary counts what the summary line reports.
type clusterSummary struct {
	brokers, partitions, underReplicated, offline int
}

// writeCluster prints m in the layout documented in runClusterDescribe.
// Columns are separated by at least two spaces and empty values are "-",
// so every row has the same number of whitespace-separated fields.
func writeCluster(out io.Writer, m kadm.Metadata) error {
	var sum clusterSummary
	cluster := m.Cluster
	if cluster == "" {
		cluster = "-"
	}
	controller := "none"
	if m.Controller >= 0 {
		controller = strconv.Itoa(int(m.Controller))
	}
	fmt.Fprintf(out, "Cluster: %s\nController: %s\n\n", cluster, controller)

	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "BROKER\tHOST:PORT\tRACK\tROLE")
	brokers := append(kadm.BrokerDetails(nil), m.Brokers...)
	sort.Slice(brokers, func(i, j int) bool { return brokers[i].NodeID < brokers[j].NodeID })
	for _, b := range brokers {
		rack, role := "-", "-"
		if b.Rack != nil && *b.Rack != "" {
			rack = *b.Rack
		}
		if b.NodeID == m.Controller {
			role = "controller"
		}
		fmt.Fprintf(w, "%d\t%s:%d\t%s\t%s\n", b.NodeID, b.Host, b.Port, rack, role)
		sum.brokers++
	}
	if err := w.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(out)
	w = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "TOPIC\tPARTITION\tLEADER\tEPOCH\tREPLICAS\tISR\tFLAGS")
	for _, d := range m.Topics.Sorted() {
		if d.Err != nil {
			fmt.Fprintf(w, "%s\t-\t-\t-\t-\t-\terror=%s\n", d.Topic, errCode(d.Err))
			continue
		}
		for _, p := range d.Partitions.Sorted() {
			sum.partitions++
			leader := "none"
			var flags []string
			if p.Leader >= 0 {
				leader = strconv.Itoa(int(p.Leader))
			} else {
				flags = append(flags, "offline")
				sum.offline++
			}
			if len(p.ISR) < len(p.Replicas) {
				flags = append(flags, "under-replicated")
				sum.underReplicated++
			}
			if p.Err != nil {
				flags = append(flags, "error="+errCode(p.Err))
			}
			fmt.Fprintf(w, "%s\t%d\t%s\t%d\t%s\t%s\t%s\n", d.Topic, p.Partition, leader, p.LeaderEpoch,
				dashIfEmpty(joinInt32s(p.Replicas)), dashIfEmpty(joinInt32s(p.ISR)), dashIfEmpty(strings.Join(flags, ",")))
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(out, "\n%d brokers, %d partitions, %d under-replicated, %d offline\n",
		sum.brokers, sum.partitions, sum.underReplicated, sum.offline)
	return err
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// errCode is a Kafka error's code name (kerr formats errors as
// "NAME: description"), one word so the row keeps its field count.
func errCode(err error) string {
	name, _, _ := strings.Cut(err.Error(), ":")
	return strings.ReplaceAll(strings.TrimSpace(name), " ", "_")
}
