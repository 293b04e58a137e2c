package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// session is a connected client plus what error messages need to know
// about how it was connected.
type session struct {
	cl      *kgo.Client
	adm     *kadm.Client
	seeds   []string
	timeout time.Duration
}

// connect builds a client for seeds and checks, within timeout, that at
// least one bootstrap server answers. Without this check franz-go would
// retry dialing for as long as the context allows and a person would see a
// hang instead of "cannot reach localhost:9092".
// connect opens an admin session to the servers named by the flags.
func (c *connFlags) connect(ctx context.Context) (*session, error) {
	seeds, err := c.seeds()
	if err != nil {
		return nil, err
	}
	extra, err := c.clientOpts() // security.go
	if err != nil {
		return nil, err
	}
	return connect(ctx, seeds, c.timeout, extra...)
}

func connect(ctx context.Context, seeds []string, timeout time.Duration, extra ...kgo.Opt) (*session, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.ClientID("kafki"),
		kgo.SoftwareNameAndVersion("kafki", Version),
		kgo.DialTimeout(timeout),
		// Bounds the connection handshake too, which the context does
		// not: a server that accepts but never answers fails in timeout.
		kgo.RequestTimeoutOverhead(timeout),
		kgo.RetryTimeout(timeout),
	}
	opts = append(opts, extra...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("configure client: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := cl.Ping(pingCtx); err != nil {
		cl.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var netErr net.Error
		if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()) {
			return nil, fmt.Errorf("%w %s: no answer within %s", ErrUnreachable, strings.Join(seeds, ","), timeout)
		}
		return nil, fmt.Errorf("%w %s: %w", ErrUnreachable, strings.Join(seeds, ","), err)
	}
	adm := kadm.NewClient(cl)
	adm.SetTimeoutMillis(int32(min(timeout, time.Hour).Milliseconds()))
	return &session{cl: cl, adm: adm, seeds: seeds, timeout: timeout}, nil
}

func (s *session) close() { s.cl.Close() }

// wrap turns a franz-go error into one naming what was being done.
func (s *session) wrap(err error, errMsg string) error {
	return brokerError(err, errMsg, s.seeds, s.timeout)
}

// topicPartitions returns the partition count of topic, or ErrUnknownTopic.
func (s *session) topicPartitions(ctx context.Context, topic string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	details, err := s.adm.ListTopicsWithInternal(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("look up topic %q: %w", topic, s.wrap(err, ""))
	}
	d, ok := details[topic]
	if !ok || isUnknownTopic(d.Err) {
		return 0, fmt.Errorf("%w %q", ErrUnknownTopic, topic)
	}
	if d.Err != nil {
		return 0, fmt.Errorf("look up topic %q: %w", topic, s.wrap(d.Err, ""))
	}
	return len(d.Partitions), nil
}
