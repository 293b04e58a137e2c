package loadtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrUnreachable means no bootstrap server answered within --timeout.
var ErrUnreachable = errors.New("cluster unreachable")

// admin is the run's control connection: topic setup and end offsets.
type admin struct {
	cl  *kgo.Client
	adm *kadm.Client
}

// connect dials the bootstrap servers and checks, within cfg.Timeout, that
// the cluster answers.
func connect(ctx context.Context, cfg Config) (*admin, error) {
	cl, err := kgo.NewClient(append(cfg.connOpts(), kgo.RetryTimeout(cfg.Timeout))...)
	if err != nil {
		return nil, fmt.Errorf("admin client: %w", err)
	}
	a := &admin{cl: cl, adm: kadm.NewClient(cl)}
	cctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	if _, err := a.adm.ListBrokers(cctx); err != nil {
		cl.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, kerr.SaslAuthenticationFailed) {
			// The broker answered and refused: not a reachability problem.
			return nil, fmt.Errorf("log in to %s as %q: %w", cfg.Bootstrap, cfg.Security.SASLUser, err)
		}
		return nil, fmt.Errorf("%w: %s within %s: %w", ErrUnreachable, cfg.Bootstrap, cfg.Timeout, err)
	}
	return a, nil
}

func (a *admin) close() { a.cl.Close() }

// ensureTopic creates the topic if asked and missing, then waits (within
// timeout) until every partition has a leader, and returns the partitions.
func (a *admin) ensureTopic(ctx context.Context, cfg Config) ([]int32, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	if cfg.CreateTopic {
		resp, err := a.adm.CreateTopic(ctx, int32(cfg.Partitions), int16(cfg.ReplicationFactor), nil, cfg.Topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return nil, fmt.Errorf("create topic %s: %w", cfg.Topic, err)
		}
	}
	for {
		parts, err := a.leaderPartitions(ctx, cfg.Topic)
		if err == nil {
			return parts, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("topic %s not ready within %s: %w", cfg.Topic, cfg.Timeout, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// leaderPartitions returns the topic's partitions if all have a leader.
func (a *admin) leaderPartitions(ctx context.Context, topic string) ([]int32, error) {
	md, err := a.adm.Metadata(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	td, ok := md.Topics[topic]
	if !ok || td.Err != nil {
		return nil, fmt.Errorf("metadata of %s: %v", topic, td.Err)
	}
	if len(td.Partitions) == 0 {
		return nil, fmt.Errorf("topic %s has no partitions yet", topic)
	}
	var parts []int32
	for p, pd := range td.Partitions {
		if pd.Err != nil || pd.Leader < 0 {
			return nil, fmt.Errorf("partition %d has no leader yet", p)
		}
		parts = append(parts, p)
	}
	slices.Sort(parts)
	return parts, nil
}

// endOffsets lists the end offsets of the topic's partitions.
func (a *admin) endOffsets(ctx context.Context, cfg Config, parts []int32) (map[int32]int64, error) {
	return a.offsets(ctx, cfg, parts, "end", a.adm.ListEndOffsets)
}

// startOffsets lists the log start offsets of the topic's partitions.
func (a *admin) startOffsets(ctx context.Context, cfg Config, parts []int32) (map[int32]int64, error) {
	return a.offsets(ctx, cfg, parts, "start", a.adm.ListStartOffsets)
}

func (a *admin) offsets(ctx context.Context, cfg Config, parts []int32, which string,
	list func(context.Context, ...string) (kadm.ListedOffsets, error)) (map[int32]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	for {
		ends, err := a.offsetsOnce(ctx, cfg, parts, which, list)
		// In a cluster a partition's leader can be in the metadata a
		// moment before that broker serves it (it learns its new
		// leadership from the shared metadata store); a retriable
		// partition error is waited out within the timeout, as Kafka's
		// own clients do.
		var ke *kerr.Error
		if err == nil || !errors.As(err, &ke) || !ke.Retriable {
			return ends, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (retried for %s)", err, cfg.Timeout)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (a *admin) offsetsOnce(ctx context.Context, cfg Config, parts []int32, which string,
	list func(context.Context, ...string) (kadm.ListedOffsets, error)) (map[int32]int64, error) {
	listed, err := list(ctx, cfg.Topic)
	if err != nil {
		return nil, fmt.Errorf("list %s offsets: %w", which, err)
	}
	ends := make(map[int32]int64, len(parts))
	for _, p := range parts {
		o, ok := listed.Lookup(cfg.Topic, p)
		if !ok {
			return nil, fmt.Errorf("%s offset of %s/%d: not in the answer", which, cfg.Topic, p)
		}
		if o.Err != nil {
			return nil, fmt.Errorf("%s offset of %s/%d: %w", which, cfg.Topic, p, o.Err)
		}
		ends[p] = o.Offset
	}
	return ends, nil
}

// deleteTopic removes the topic (bounded by timeout); failures are
// returned for the report, they do not change the measurements.
func (a *admin) deleteTopic(ctx context.Context, cfg Config) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Timeout)
	defer cancel()
	resp, err := a.adm.DeleteTopic(ctx, cfg.Topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("delete topic %s: %w", cfg.Topic, err)
	}
	return nil
}

// sumDelta is the number of offsets between from and to over all
// partitions.
func sumDelta(from, to map[int32]int64) int64 {
	var n int64
	for p, end := range to {
		n += end - from[p]
	}
	return n
}
