package server_test

import (
	"encoding/binary"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/brokerd/internal/testbroker"
)

// dropProxy forwards Kafka connections to a broker and, for some Produce
// responses, closes the client connection instead of forwarding the
// answer. The broker has appended the batch; the client cannot know and
// retries it: exactly the case idempotent producers exist for.
type dropProxy struct {
	ln      net.Listener
	target  atomic.Value // string
	every   int64        // drop every Nth produce response
	seen    atomic.Int64
	dropped atomic.Int64
	wg      sync.WaitGroup
}

func newDropProxy(t *testing.T, every int64) *dropProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dropProxy{ln: ln, every: every}
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	p.wg.Add(1)
	go p.accept()
	return p
}

func (p *dropProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		b, err := net.Dial("tcp", p.target.Load().(string))
		if err != nil {
			c.Close()
			continue
		}
		p.wg.Add(1)
		go p.pipe(c, b)
	}
}

func readFrame(r io.Reader) ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return nil, err
	}
	b := make([]byte, 4+binary.BigEndian.Uint32(size[:]))
	copy(b, size[:])
	_, err := io.ReadFull(r, b[4:])
	return b, err
}

func (p *dropProxy) pipe(client, broker net.Conn) {
	defer p.wg.Done()
	defer client.Close()
	defer broker.Close()
	var mu sync.Mutex
	keys := map[int32]int16{} // correlation id -> api key
	go func() {
		defer broker.Close()
		for {
			f, err := readFrame(client)
			if err != nil {
				return
			}
			mu.Lock()
			keys[int32(binary.BigEndian.Uint32(f[8:]))] = int16(binary.BigEndian.Uint16(f[4:]))
			mu.Unlock()
			if _, err := broker.Write(f); err != nil {
				return
			}
		}
	}()
	for {
		f, err := readFrame(broker)
		if err != nil {
			return
		}
		mu.Lock()
		key := keys[int32(binary.BigEndian.Uint32(f[4:]))]
		mu.Unlock()
		if key == 0 && p.seen.Add(1)%p.every == 0 {
			p.dropped.Add(1)
			return // the client never hears that its batch was appended
		}
		if _, err := client.Write(f); err != nil {
			return
		}
	}
}

func TestIdempotentProducerSurvivesLostResponses(t *testing.T) {
	proxy := newDropProxy(t, 4)
	addr := testbroker.Start(t, testbroker.WithConfig(func(c *configT) { c.AdvertisedAddr = proxy.ln.Addr().String() }))
	proxy.target.Store(addr)

	cl := newClient(t, proxy.ln.Addr().String(),
		kgo.DefaultProduceTopic("retries"), kgo.AllowAutoTopicCreation(),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0),
		kgo.MaxProduceRequestsInflightPerBroker(1), kgo.RetryBackoffFn(func(int) time.Duration { return 10 * time.Millisecond }))
	const n = 300
	for i := 0; i < n; i++ {
		// One at a time so each record is its own batch and its own
		// produce request: many chances for a lost response.
		if err := cl.ProduceSync(ctxT(t), &kgo.Record{Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if proxy.dropped.Load() < 10 {
		t.Fatalf("only %d responses dropped: the test exercised too few retries", proxy.dropped.Load())
	}
	got := consumeAll(t, addr, "retries", n)
	if len(got) != n {
		t.Fatalf("read %d records, want %d", len(got), n)
	}
	for i, r := range got {
		if string(r.Value) != strconv.Itoa(i) || r.Offset != int64(i) {
			t.Fatalf("offset %d holds %q: duplicate or reordered after %d dropped responses", r.Offset, r.Value, proxy.dropped.Load())
		}
	}
	// Nothing beyond n: a duplicate would have made the log longer.
	ends, err := kadm.NewClient(newClient(t, addr)).ListEndOffsets(ctxT(t), "retries")
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := ends.Lookup("retries", 0); e.Offset != n {
		t.Fatalf("log end offset %d, want %d: the broker stored duplicates", e.Offset, n)
	}
	t.Logf("%d produce responses dropped, %d records, no duplicates", proxy.dropped.Load(), n)
}
