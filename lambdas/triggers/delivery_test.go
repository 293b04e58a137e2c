package triggers_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/lambdas/triggers"
)

// checkOrder checks a recorder's batches of one topic: per partition every
// offset below end arrived, each batch is contiguous and ascending, and
// batches follow each other with no gap. It returns the records delivered
// more than once.
func checkOrder(t *testing.T, seen []batchSeen, topic string, ends map[int32]int64) (dups int) {
	t.Helper()
	next := map[int32]int64{}
	got := map[int32]map[int64]int{}
	for _, b := range seen {
		if b.topic != topic || b.failed {
			continue
		}
		for i := 1; i < len(b.offsets); i++ {
			if b.offsets[i] != b.offsets[i-1]+1 {
				t.Fatalf("partition %d: batch %v not contiguous", b.partition, b.offsets)
			}
		}
		if b.offsets[0] > next[b.partition] {
			t.Fatalf("partition %d: gap: batch starts at %d, expected at most %d", b.partition, b.offsets[0], next[b.partition])
		}
		next[b.partition] = max(next[b.partition], b.offsets[len(b.offsets)-1]+1)
		if got[b.partition] == nil {
			got[b.partition] = map[int64]int{}
		}
		for _, o := range b.offsets {
			got[b.partition][o]++
		}
	}
	for p, end := range ends {
		for o := int64(0); o < end; o++ {
			switch n := got[p][o]; {
			case n == 0:
				t.Fatalf("partition %d offset %d never delivered", p, o)
			case n > 1:
				dups += n - 1
			}
		}
	}
	return dups
}

// produceKeyed writes n records over keys key-0..key-(keys-1); the value
// of each is "<key>=<sequence>", so the last value per key is known.
func produceKeyed(t *testing.T, cl *kgo.Client, topic string, n, keys int) (map[string]string, map[int32]int64) {
	t.Helper()
	last := map[string]string{}
	ends := map[int32]int64{}
	recs := make([]*kgo.Record, 0, n)
	for i := 0; i < n; i++ {
		k := "key-" + strconv.Itoa(i%keys)
		v := fmt.Sprintf("%s=%d", k, i)
		last[k] = v
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(k), Value: []byte(v)})
	}
	res := cl.ProduceSync(context.Background(), recs...)
	if err := res.FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	for _, r := range res {
		ends[r.Record.Partition] = max(ends[r.Record.Partition], r.Record.Offset+1)
	}
	return last, ends
}

func TestDeliversEveryRecordInOrderAndSinkHoldsLastValues(t *testing.T) {
	e := setup(t)
	start := time.Now()
	e.createTable(t, "deliver-rec", true)
	e.createTable(t, "deliver-sink", false)
	e.createFunction(t, "deliver-recorder", "recorder", map[string]string{"RECORDER_TABLE": "deliver-rec", "RECORDER_NAME": "deliver"})
	e.createFunction(t, "deliver-sink", "dynamodb-sink", map[string]string{"SINK_TABLE": "deliver-sink"})
	cl := e.kafka(t, kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	createTopic(t, cl, "deliver", 6)
	last, ends := produceKeyed(t, cl, "deliver", 10_000, 1_000)

	store := triggers.NewMemStore()
	for _, d := range []triggers.Definition{
		triggers.NewDefinition("deliver-rec", "deliver-recorder", "deliver"),
		triggers.NewDefinition("deliver-sink", "deliver-sink", "deliver"),
	} {
		d.StartingPosition = triggers.TrimHorizon
		if _, err := triggers.Create(context.Background(), store, d); err != nil {
			t.Fatal(err)
		}
	}
	r := e.runRunner(t, store, "r1")
	total := int64(10_000)
	eventually(t, 150*time.Second, "recorder saw every record", func() (bool, string) {
		var n int64
		for _, b := range e.recorded(t, "deliver-rec", "deliver") {
			n += int64(len(b.offsets))
		}
		return n >= total, fmt.Sprintf("%d of %d", n, total)
	})
	seen := e.recorded(t, "deliver-rec", "deliver")
	dups := checkOrder(t, seen, "deliver", ends)
	t.Logf("%d invocations recorded, %d duplicates, %v", len(seen), dups, time.Since(start).Round(time.Millisecond))

	// The sink: every key holds its last value (idempotent, conditional on offsets).
	eventually(t, 120*time.Second, "sink holds the last value of every key", func() (bool, string) {
		items := scanAll(t, e.db, "deliver-sink")
		wrong := 0
		for k, v := range last {
			if items[k] != v {
				wrong++
			}
		}
		return wrong == 0, fmt.Sprintf("%d of %d keys not at their last value, %d items", wrong, len(last), len(items))
	})
	// The metrics saw it too.
	if v := counter(r.Metrics().Delivered.WithLabelValues("deliver-rec")); v < float64(total) {
		t.Fatalf("kafki_trigger_records_delivered_total %v, want >= %d", v, total)
	}
	if v := counter(r.Metrics().Invocations.WithLabelValues("deliver-rec", string(triggers.ResultOK))); v < float64(len(seen)) {
		t.Fatalf("ok invocations %v, recorder saw %d", v, len(seen))
	}
	t.Logf("done in %v", time.Since(start).Round(time.Millisecond))
}

func scanAll(t *testing.T, db *dynamodb.Client, table string) map[string]string {
	t.Helper()
	out := map[string]string{}
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: &table, ConsistentRead: awsTrue()})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("scan %s: %v", table, err)
		}
		for _, it := range page.Items {
			out[sval(it, "pk")] = sval(it, "value")
		}
	}
	return out
}

func awsTrue() *bool { b := true; return &b }
