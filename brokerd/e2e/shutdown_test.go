package e2e

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/batch"
	"github.com/kafki/kafki/internal/poll"
)

// gracefulExitBound is how long SIGTERM may take with idle clients
// connected: far less than the default shutdown.timeout, because nothing is
// in flight.
const gracefulExitBound = 10 * time.Second

// TestGracefulShutdown produces with acks=1 (acknowledged before any fsync),
// stops the broker with SIGTERM while the producer is still connected, and
// checks that it exits 0 promptly and that every record is there after a
// restart: a clean shutdown must flush what it acknowledged.
func TestGracefulShutdown(t *testing.T) {
	const (
		topic = "graceful"
		n     = 2000
	)
	b := StartBroker(t, Options{})
	createTopic(t, b.Addr, topic, 1)

	values := make([]string, n)
	for i := range values {
		values[i] = fmt.Sprintf("graceful-%05d", i)
	}
	cl := newClient(t, b.Addr,
		kgo.RequiredAcks(kgo.LeaderAck()),
		kgo.DisableIdempotentWrite(), // acks=1 is not allowed with idempotence
	)
	produceSync(t, cl, topic, values)

	code, took := b.Stop(gracefulExitBound)
	if code != 0 {
		t.Fatalf("brokerd exited with code %d after SIGTERM, want 0", code)
	}
	t.Logf("brokerd exited 0 %v after SIGTERM with a client connected", took.Round(time.Millisecond))
	cl.Close()

	b.Start()
	got := readAll(t, b.Addr, topic, 30*time.Second)[0]
	if len(got) != n {
		t.Fatalf("after restart partition 0 holds %d records, want %d", len(got), n)
	}
	for i, r := range got {
		if r.Offset != int64(i) || string(r.Value) != values[i] {
			t.Fatalf("after restart record #%d is offset %d value %q, want offset %d value %q", i, r.Offset, r.Value, i, values[i])
		}
	}
}

// TestGracefulShutdownInFlight sends SIGTERM while the broker has read a
// long-poll Fetch (wait 30s for 1 MiB) and not answered it, right after an
// acks=all Produce on another connection: a graceful shutdown answers the
// fetch early and empty rather than cutting the connection, exits 0, and
// the produced record is in the log after a restart.
//
// Requests are written as raw frames so that the test knows when the
// broker has read them: it counts a frame in
// kafki_network_received_bytes_total once it has read it whole, and
// everything it has read is answered.
func TestGracefulShutdownInFlight(t *testing.T) {
	const (
		topic   = "inflight"
		maxWait = 30 * time.Second
	)
	b := StartBroker(t, Options{Metrics: true})
	createTopic(t, b.Addr, topic, 1)
	dial := func() net.Conn {
		nc, err := net.DialTimeout("tcp", b.Addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		return nc
	}
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("e2e-inflight"))

	// The produce, answered before SIGTERM (a single node commits at once).
	value := []byte("produced just before SIGTERM")
	produce := kmsg.NewPtrProduceRequest()
	produce.Version = 8 // not flexible
	produce.Acks = -1
	produce.TimeoutMillis = 10000
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = topic
	pp := kmsg.NewProduceRequestTopicPartition()
	pp.Partition = 0
	pp.Records = batch.Build([]batch.Record{{Value: value}}, batch.BuildOptions{BaseTimestamp: time.Now().UnixMilli()})
	pt.Partitions = append(pt.Partitions, pp)
	produce.Topics = append(produce.Topics, pt)
	pc := dial()
	if _, err := pc.Write(f.AppendRequest(nil, produce, 1)); err != nil {
		t.Fatalf("write produce: %v", err)
	}
	_ = pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	pr := kmsg.NewPtrProduceResponse()
	pr.Version = produce.Version
	readResponse(t, pc, 1, pr)
	if len(pr.Topics) != 1 || len(pr.Topics[0].Partitions) != 1 {
		t.Fatalf("produce response has %d topics", len(pr.Topics))
	}
	if p := pr.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.BaseOffset != 0 {
		t.Fatalf("produce answered with %v at offset %d, want success at 0", kerr.ErrorForCode(p.ErrorCode), p.BaseOffset)
	}

	// The fetch, parked at the log end when SIGTERM comes.
	fc := dial()
	metricsURL := "http://" + b.MetricsAddr + "/metrics"
	before := scrape(t, metricsURL)["kafki_network_received_bytes_total"]
	fetch := kmsg.NewPtrFetchRequest()
	fetch.Version = 11 // topics by name; not flexible
	fetch.ReplicaID = -1
	fetch.MaxWaitMillis = int32(maxWait.Milliseconds())
	fetch.MinBytes = 1 << 20
	fetch.MaxBytes = 1 << 20
	fetch.SessionEpoch = -1
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = topic
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.Partition, fp.FetchOffset, fp.PartitionMaxBytes, fp.CurrentLeaderEpoch = 0, 1, 1<<20, -1
	ft.Partitions = append(ft.Partitions, fp)
	fetch.Topics = append(fetch.Topics, ft)
	frame := f.AppendRequest(nil, fetch, 2)
	if _, err := fc.Write(frame); err != nil {
		t.Fatalf("write fetch: %v", err)
	}
	if err := poll.Within(t.Context(), 10*time.Second, "the request bytes counted", func() error {
		got := scrape(t, metricsURL)["kafki_network_received_bytes_total"]
		if got < before+float64(len(frame)) {
			return fmt.Errorf("broker read %v request bytes since, want %d", got-before, len(frame))
		}
		return nil
	}); err != nil {
		t.Fatalf("broker did not read the fetch: %v", err)
	}

	code, took := b.Stop(gracefulExitBound)
	if code != 0 {
		t.Fatalf("brokerd exited with code %d after SIGTERM, want 0", code)
	}
	t.Logf("brokerd exited 0 %v after SIGTERM with a parked fetch", took.Round(time.Millisecond))
	if took >= maxWait {
		t.Errorf("shutdown took %v: the parked fetch waited out its MaxWait", took)
	}
	_ = fc.SetReadDeadline(time.Now().Add(5 * time.Second))
	fr := kmsg.NewPtrFetchResponse()
	fr.Version = fetch.Version
	readResponse(t, fc, 2, fr)
	if len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 {
		t.Fatalf("fetch response has %d topics", len(fr.Topics))
	}
	if p := fr.Topics[0].Partitions[0]; p.ErrorCode != 0 || len(p.RecordBatches) != 0 || p.HighWatermark != 1 {
		t.Errorf("parked fetch answered with %v, %d bytes, high watermark %d; want no error, no data, 1", kerr.ErrorForCode(p.ErrorCode), len(p.RecordBatches), p.HighWatermark)
	}

	b.Start()
	got := readAll(t, b.Addr, topic, 30*time.Second)[0]
	if len(got) != 1 || string(got[0].Value) != string(value) {
		t.Fatalf("after restart the log holds %d records, want the one produced before SIGTERM", len(got))
	}
}

// readResponse reads one response frame of a non-flexible version from nc
// and decodes it into resp, checking its correlation id.
func readResponse(t *testing.T, nc net.Conn, corr int32, resp kmsg.Response) {
	t.Helper()
	var size [4]byte
	if _, err := io.ReadFull(nc, size[:]); err != nil {
		t.Fatalf("read response %d: %v (connection cut before the answer)", corr, err)
	}
	buf := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(nc, buf); err != nil {
		t.Fatalf("read response %d: %v", corr, err)
	}
	if len(buf) < 4 || int32(binary.BigEndian.Uint32(buf)) != corr {
		t.Fatalf("response frame of %d bytes is not for correlation id %d", len(buf), corr)
	}
	if err := resp.ReadFrom(buf[4:]); err != nil {
		t.Fatalf("decode response %d: %v", corr, err)
	}
}
