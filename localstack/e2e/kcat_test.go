package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// kcatTimeout bounds one kcat run; -e consumers exit at the end of the
// partitions, producers once every line is acknowledged.
const kcatTimeout = 2 * time.Minute

// kcatProduceArgs make kcat an idempotent acks=all producer: it must
// neither lose nor duplicate a line across a leader change.
var kcatProduceArgs = []string{"-X", "acks=all", "-X", "enable.idempotence=true", "-X", "message.timeout.ms=60000"}

// kcat runs kcat with stdin and returns its output; a failure or a
// delivery error it reports fails the test.
func kcat(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), kcatTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kcat", args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat %s: %v\n%s", strings.Join(args, " "), err, tailOf(stderr.String(), 3000))
	}
	if strings.Contains(stderr.String(), "Delivery failed") {
		t.Fatalf("kcat %s reported failed deliveries:\n%s", strings.Join(args, " "), tailOf(stderr.String(), 3000))
	}
	return string(out)
}

// kcatMetadata is kcat -L -J's answer.
type kcatMetadata struct {
	Brokers []struct {
		ID   int32  `json:"id"`
		Name string `json:"name"`
	} `json:"brokers"`
	Topics []struct {
		Topic      string          `json:"topic"`
		Partitions []kcatPartition `json:"partitions"`
		Error      string          `json:"error"`
	} `json:"topics"`
}

type kcatPartition struct {
	Partition int32 `json:"partition"`
	Leader    int32 `json:"leader"`
	ISRs      []struct {
		ID int32 `json:"id"`
	} `json:"isrs"`
}

func (p kcatPartition) isr() []int32 {
	var l []int32
	for _, r := range p.ISRs {
		l = append(l, r.ID)
	}
	slices.Sort(l)
	return l
}

func (m kcatMetadata) brokerIDs() []int32 {
	var l []int32
	for _, b := range m.Brokers {
		l = append(l, b.ID)
	}
	slices.Sort(l)
	return l
}

func (m kcatMetadata) partitions(topic string) []kcatPartition {
	for _, tp := range m.Topics {
		if tp.Topic == topic {
			return tp.Partitions
		}
	}
	return nil
}

// waitMetadata polls kcat -L until check accepts its view of topic.
func waitMetadata(t *testing.T, bootstrap, topic, what string, check func(kcatMetadata) error) kcatMetadata {
	t.Helper()
	var md kcatMetadata
	must(t, 60*time.Second, what, func() error {
		ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "kcat", "-L", "-J", "-b", bootstrap, "-t", topic, "-m", "5").Output()
		if err != nil {
			return fmt.Errorf("kcat -L: %w", err)
		}
		md = kcatMetadata{}
		if err := json.Unmarshal(out, &md); err != nil {
			return fmt.Errorf("kcat -L -J: %w", err)
		}
		return check(md)
	})
	return md
}

// allInSync accepts metadata listing brokers want and every partition of
// topic with a live leader and an ISR of exactly want.
func allInSync(topic string, partitions int, want []int32) func(kcatMetadata) error {
	return func(md kcatMetadata) error {
		if ids := md.brokerIDs(); !slices.Equal(ids, want) {
			return fmt.Errorf("brokers %v, want %v", ids, want)
		}
		ps := md.partitions(topic)
		if len(ps) != partitions {
			return fmt.Errorf("%d partitions of %s, want %d", len(ps), topic, partitions)
		}
		for _, p := range ps {
			if !slices.Contains(want, p.Leader) || !slices.Equal(p.isr(), want) {
				return fmt.Errorf("partition %d: leader %d, isr %v", p.Partition, p.Leader, p.isr())
			}
		}
		return nil
	}
}

// checkConsumed checks kcat's "<partition> <key>=<value>" lines against
// what was produced: every key exactly once with its value, and within a
// partition in production order (values carry their sequence number).
func checkConsumed(t *testing.T, out string, produced map[string]int) {
	t.Helper()
	seen := map[string]bool{}
	last := map[string]int{}
	var problems []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		part, kv, _ := strings.Cut(l, " ")
		k, v, _ := strings.Cut(kv, "=")
		seq, ok := produced[k]
		switch {
		case !ok:
			problems = append(problems, "unknown key "+k)
		case seen[k]:
			problems = append(problems, "duplicate "+k)
		case v != value(seq):
			problems = append(problems, fmt.Sprintf("%s: value %q, want %q", k, v, value(seq)))
		case seq < last[part]:
			problems = append(problems, fmt.Sprintf("partition %s: %s (seq %d) after seq %d", part, k, seq, last[part]))
		}
		seen[k], last[part] = true, seq
	}
	for k := range produced {
		if !seen[k] {
			problems = append(problems, "missing "+k)
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		t.Fatalf("%d problems in %d lines read back (%d produced):\n  %s", len(problems), len(seen), len(produced),
			strings.Join(problems[:min(len(problems), 20)], "\n  "))
	}
}

// value is the value of the record with sequence number seq: distinct per
// record, about 100 bytes.
func value(seq int) string {
	return fmt.Sprintf("seq-%06d-%s", seq, strings.Repeat("x", 88))
}

// lines builds n keyed kcat input lines "<prefix>-<i>:<value>" numbered
// from *seq on, recording each key's sequence number in produced.
func lines(prefix string, n int, seq *int, produced map[string]int) string {
	var b strings.Builder
	for i := range n {
		k := fmt.Sprintf("%s-%05d", prefix, i)
		produced[k] = *seq
		fmt.Fprintf(&b, "%s:%s\n", k, value(*seq))
		*seq++
	}
	return b.String()
}
