package server_test

import (
	"bytes"
	"encoding/binary"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/batch"
	"github.com/kafki/kafki/brokerd/broker"
	"github.com/kafki/kafki/brokerd/internal/testbroker"
)

// logBuffer collects a broker's log lines; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// lines returns the lines logged so far that contain every one of subs.
func (l *logBuffer) lines(subs ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range strings.Split(l.buf.String(), "\n") {
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(line, s)
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}

// startLoggedBroker is testbroker.StartBroker with the broker's log kept.
func startLoggedBroker(t *testing.T, opts ...testbroker.Option) (*broker.Broker, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	return testbroker.StartBrokerLogging(t, logs, opts...), logs
}

// A malformed frame closes its connection with a warning that names the
// connection and the reason.
func TestMalformedFramesLogTheirReason(t *testing.T) {
	b, logs := startLoggedBroker(t, testbroker.WithConfig(func(c *configT) { c.MaxRequestBytes = 2 << 20 }))
	cases := []struct {
		name   string
		raw    []byte
		reason string
	}{
		{"oversized frame", binary.BigEndian.AppendUint32(nil, 1<<30), "request frame of 1073741824 bytes"},
		{"negative size", binary.BigEndian.AppendUint32(nil, 0xffffffff), "request frame of -1 bytes"},
		{"tiny frame", []byte{0, 0, 0, 2, 0, 1}, "request frame of 2 bytes"},
		{"bad client id", []byte{0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0x7f, 0}, "malformed request header"},
		{"undecodable body", append([]byte{0, 0, 0, 13, 0, 3, 0, 12, 0, 0, 0, 1, 0, 0, 0}, 0xff, 0xff), "undecodable Metadata v12 request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, b.Addr())
			remote := "remote=" + c.nc.LocalAddr().String()
			c.write(tc.raw)
			c.expectClosed()
			// The warning is written before the close, so it is there now.
			got := logs.lines("level=WARN", "closing connection", remote)
			if len(got) != 1 || !strings.Contains(got[0], tc.reason) {
				t.Fatalf("log lines for %s: %q, want one closing warning with %q", remote, got, tc.reason)
			}
		})
	}
}

// Produce never creates topics: to an unknown or illegal name it answers
// UNKNOWN_TOPIC_OR_PARTITION, as Kafka's produce path does, and no topic
// appears; Metadata and CreateTopics refuse an illegal name with
// INVALID_TOPIC_EXCEPTION even with auto-creation on.
func TestProduceToUnknownOrInvalidTopicCreatesNothing(t *testing.T) {
	for _, autoCreate := range []bool{false, true} {
		b := testbroker.StartBroker(t, testbroker.WithConfig(func(c *configT) { c.AutoCreateTopics = autoCreate }))
		c := dialRaw(t, b.Addr())
		long := strings.Repeat("x", 250)
		good := batch.Build(records(1, 10), batch.BuildOptions{})
		for i, name := range []string{"bad name!", long, "missing"} {
			if code, _ := produceCode(t, c, produceReq(name, 0, 1, good), int32(i)); code != kerr.UnknownTopicOrPartition.Code {
				t.Errorf("auto-create %v: produce to %.20q: code %d, want UNKNOWN_TOPIC_OR_PARTITION", autoCreate, name, code)
			}
		}
		if n := len(b.Topics().Topics()); n != 0 {
			t.Fatalf("auto-create %v: %d topics after refused produces, want 0", autoCreate, n)
		}
		for i, name := range []string{"bad name!", long, ".", "a/b"} {
			req := kmsg.NewPtrMetadataRequest()
			req.SetVersion(12)
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(name)
			req.Topics = append(req.Topics, rt)
			req.AllowAutoTopicCreation = true
			if code := c.roundTrip(req, int32(10+i)).(*kmsg.MetadataResponse).Topics[0].ErrorCode; code != kerr.InvalidTopicException.Code {
				t.Errorf("auto-create %v: metadata %.20q: code %d, want INVALID_TOPIC_EXCEPTION", autoCreate, name, code)
			}
			cr := kmsg.NewPtrCreateTopicsRequest()
			cr.SetVersion(7)
			crt := kmsg.NewCreateTopicsRequestTopic()
			crt.Topic, crt.NumPartitions, crt.ReplicationFactor = name, 1, 1
			cr.Topics = append(cr.Topics, crt)
			if code := c.roundTrip(cr, int32(20+i)).(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode; code != kerr.InvalidTopicException.Code {
				t.Errorf("auto-create %v: create %.20q: code %d, want INVALID_TOPIC_EXCEPTION", autoCreate, name, code)
			}
		}
		// An unknown legal name with auto-creation off stays unknown.
		if !autoCreate {
			req := kmsg.NewPtrMetadataRequest()
			req.SetVersion(12)
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr("missing")
			req.Topics = append(req.Topics, rt)
			req.AllowAutoTopicCreation = true
			if code := c.roundTrip(req, 30).(*kmsg.MetadataResponse).Topics[0].ErrorCode; code != kerr.UnknownTopicOrPartition.Code {
				t.Errorf("metadata for missing with auto-create off: code %d, want UNKNOWN_TOPIC_OR_PARTITION", code)
			}
		}
		all := kmsg.NewPtrMetadataRequest()
		all.SetVersion(12)
		if ts := c.roundTrip(all, 40).(*kmsg.MetadataResponse).Topics; len(ts) != 0 || len(b.Topics().Topics()) != 0 {
			t.Fatalf("auto-create %v: metadata lists %d topics after the refusals, want 0", autoCreate, len(ts))
		}
	}
}
