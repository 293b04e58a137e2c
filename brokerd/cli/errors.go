package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Sentinel errors a caller (or a test) can match with errors.Is. The message
// shown to a person always carries more context than the sentinel alone.
var (
	// ErrUsage marks an error in the command line: an unknown command or
	// flag, a missing required flag, or an invalid flag value. It maps to
	// exit code 2 and is always detected before connecting to a broker.
	ErrUsage = errors.New("usage error")

	// ErrUnreachable means no bootstrap server answered within --timeout.
	ErrUnreachable = errors.New("cannot reach bootstrap server")

	// ErrUnknownTopic means the broker does not know the requested topic.
	ErrUnknownTopic = errors.New("unknown topic")

	// ErrTimeout means the broker did not answer a request within --timeout.
	ErrTimeout = errors.New("timed out")

	// ErrCoordinatorUnavailable means the broker could not name a group
	// coordinator for the consumer group given with --group.
	ErrCoordinatorUnavailable = errors.New("group coordinator not available")

	// ErrUnsupported means the broker does not implement a request the
	// command needs (it did not list it in its ApiVersions answer).
	ErrUnsupported = errors.New("the broker does not support this request")

	// errHelpShown means --help was requested and the help text printed;
	// the command succeeds without doing anything else.
	errHelpShown = errors.New("help shown")
)

// usageError is a command-line error. It matches ErrUsage with errors.Is and
// remembers which command it belongs to so the message can point at that
// command's --help.
type usageError struct {
	msg string
}

func (e *usageError) Error() string { return e.msg }

func (e *usageError) Is(target error) bool { return target == ErrUsage }

// usagef builds a usage error from a format string.
func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// brokerError turns an error from franz-go into one a person can act on:
// context deadline errors become ErrTimeout naming the bootstrap servers, and
// Kafka error codes keep their name and description (kerr formats them as
// "NAME: description"). errMsg is the optional free-text message some
// responses carry next to the code; it is appended when it adds something.
func brokerError(err error, errMsg string, bootstrap []string, timeout time.Duration) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w after %s waiting for the broker (bootstrap server %s)", ErrTimeout, timeout, strings.Join(bootstrap, ","))
	}
	if isUnsupported(err) {
		return ErrUnsupported
	}
	if errMsg != "" && !strings.Contains(err.Error(), errMsg) {
		return fmt.Errorf("%w (%s)", err, errMsg)
	}
	return err
}

// isUnsupported reports whether franz-go refused to send a request because
// the broker's ApiVersions answer does not list it. franz-go does not export
// that error, so its fixed text is matched.
func isUnsupported(err error) bool {
	return err != nil && strings.Contains(err.Error(), "broker is too old")
}

// isUnknownTopic reports whether err is Kafka's UNKNOWN_TOPIC_OR_PARTITION
// or UNKNOWN_TOPIC_ID.
func isUnknownTopic(err error) bool {
	return errors.Is(err, kerr.UnknownTopicOrPartition) || errors.Is(err, kerr.UnknownTopicID)
}

// oneLine collapses a multi-line error message into one line: franz-go's
// shard errors and joined errors may span lines, and the tool promises a
// single line on stderr.
func oneLine(s string) string {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' })
	for i := range fields {
		fields[i] = strings.TrimSpace(fields[i])
	}
	return strings.Join(fields, "; ")
}
