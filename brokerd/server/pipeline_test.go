package server_test

import (
	"encoding/binary"
	"testing"

	"github.com/kafki/kafki/brokerd/batch"
	"github.com/kafki/kafki/brokerd/internal/testbroker"
)

// A client may pipeline requests on one connection; Kafka answers them in
// order, one at a time. A Produce queued behind a parked long-poll Fetch is
// answered once the Fetch is, and its data is what the Fetch was waiting for
// only after both are answered in order.
func TestPipelinedProduceBehindLongPoll(t *testing.T) {
	b := testbroker.StartBroker(t)
	c := dialRaw(t, b.Addr())
	createTopicRaw(t, c, "pipe", 1, nil)
	c.write(frame(fetchReq("pipe", []int32{0}, 0, 1<<20, 1<<20, 1<<20, 2000), 1))
	c.write(frame(produceReq("pipe", 0, -1, batch.Build(records(5, 100), batch.BuildOptions{})), 2))
	for _, want := range []int32{1, 2} {
		f, err := c.readFrame()
		if err != nil {
			t.Fatalf("response %d: %v", want, err)
		}
		if got := int32(binary.BigEndian.Uint32(f)); got != want {
			t.Fatalf("response with correlation id %d, want %d", got, want)
		}
	}
}
