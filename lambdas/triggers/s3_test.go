package triggers_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/lambdas/triggers"
)

func (e *env) objects(t *testing.T, bucket string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	p := s3.NewListObjectsV2Paginator(e.s3, &s3.ListObjectsV2Input{Bucket: &bucket})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list %s: %v", bucket, err)
		}
		for _, o := range page.Contents {
			g, err := e.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &bucket, Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(g.Body)
			g.Body.Close()
			out[*o.Key] = b
		}
	}
	return out
}

func (e *env) bucket(t *testing.T, name string) {
	t.Helper()
	if _, err := e.s3.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &name}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
}

// The S3 archiver writes one NDJSON object per batch named by its first
// offset; a failing function's batches land in an S3 failure destination
// with AWS's on-failure record and the payload.
func TestS3ArchiverAndS3FailureDestination(t *testing.T) {
	e := setup(t)
	e.bucket(t, "archive")
	e.bucket(t, "failures")
	e.createTable(t, "s3fail-rec", true)
	e.createFunction(t, "archiver", "s3-archiver", map[string]string{"ARCHIVE_BUCKET": "archive"})
	e.createFunction(t, "s3fail", "recorder", map[string]string{"RECORDER_TABLE": "s3fail-rec", "RECORDER_FAIL": "always"})
	cl := e.kafka(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	createTopic(t, cl, "arch", 1)
	var values []string
	for i := 0; i < 25; i++ {
		values = append(values, fmt.Sprintf(`{"n":%d}`, i))
	}
	produceValues(t, cl, "arch", values...)
	store := triggers.NewMemStore()
	a := triggers.NewDefinition("archive", "archiver", "arch")
	a.StartingPosition, a.BatchSize = triggers.TrimHorizon, 10
	f := triggers.NewDefinition("s3fail", "s3fail", "arch")
	f.StartingPosition, f.BatchSize, f.MaxRetryAttempts, f.OnFailure = triggers.TrimHorizon, 10, 0, "s3://failures"
	for _, d := range []triggers.Definition{a, f} {
		if _, err := triggers.Create(context.Background(), store, d); err != nil {
			t.Fatal(err)
		}
	}
	e.runRunner(t, store, "r1")
	eventually(t, 60*time.Second, "archive holds every record once", func() (bool, string) {
		objs := e.objects(t, "archive")
		n := 0
		for _, b := range objs {
			n += bytes.Count(b, []byte("\n"))
		}
		return n == 25, fmt.Sprintf("%d objects, %d lines", len(objs), n)
	})
	objs := e.objects(t, "archive")
	var keys []string
	for k := range objs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	next := 0
	for _, k := range keys {
		if !strings.HasPrefix(k, fmt.Sprintf("arch/0/%020d", next)) {
			t.Fatalf("object %s, expected one starting at offset %d", k, next)
		}
		sc := bufio.NewScanner(bytes.NewReader(objs[k]))
		for sc.Scan() {
			var l struct {
				Offset int64
				Value  string
			}
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil || l.Offset != int64(next) || l.Value != values[next] {
				t.Fatalf("%s line %q (%v), want offset %d", k, sc.Text(), err, next)
			}
			next++
		}
	}
	eventually(t, 60*time.Second, "failures hold every batch", func() (bool, string) {
		return len(e.objects(t, "failures")) == 3, fmt.Sprint(len(e.objects(t, "failures")))
	})
	for k, b := range e.objects(t, "failures") {
		var rec struct {
			RequestContext  struct{ Condition string }
			ResponseContext struct{ FunctionError string }
			KafkaBatchInfo  struct{ FirstOffset, LastOffset int64 }
			Payload         events.KafkaEvent
		}
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		n := len(rec.Payload.Records["arch-0"])
		if rec.RequestContext.Condition != "RetryAttemptsExhausted" || !strings.Contains(rec.ResponseContext.FunctionError, "told to fail") ||
			n != int(rec.KafkaBatchInfo.LastOffset-rec.KafkaBatchInfo.FirstOffset+1) || rec.Payload.EventSource != "SelfManagedKafka" {
			t.Fatalf("%s: %+v", k, rec)
		}
	}
}
