package triggers_test

import (
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func kmsgCreateTopic(topic string, n int32) *kmsg.CreateTopicsRequest {
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, n, 1
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 10000
	return req
}

func testLogger(t testing.TB) *slog.Logger {
	var w io.Writer = io.Discard
	if os.Getenv("KAFKI_TEST_LOG") != "" {
		w = os.Stderr
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
}
