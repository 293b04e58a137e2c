// Package kafkaevent is a small handler library over aws-lambda-go's
// events.KafkaEvent, the payload of AWS's self-managed Kafka and MSK
// event sources and of Kafki's trigger runner: a handler gets the
// records decoded (key, value and headers as bytes), in offset order per
// partition, and writes a loop instead of base64 plumbing.
//
//	func main() {
//		kafkaevent.Start(func(ctx context.Context, b kafkaevent.Batch) error {
//			for _, r := range b.Records { ... }
//			return nil // an error fails the whole batch: it is retried
//		})
//	}
package kafkaevent

import (
	"context"
	"encoding/base64"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

// Record is one decoded Kafka record.
type Record struct {
	Topic         string
	Partition     int32
	Offset        int64
	Timestamp     time.Time
	TimestampType string // CREATE_TIME or LOG_APPEND_TIME
	Key, Value    []byte // nil when the record has none
	Headers       []Header
}

// Header is one record header; a name may repeat, in record order.
type Header struct {
	Key   string
	Value []byte
}

// Header returns the value of the first header named key.
func (r *Record) Header(key string) ([]byte, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return h.Value, true
		}
	}
	return nil, false
}

// Batch is one invocation's records: sorted by topic, partition and
// offset, so each partition's records are contiguous and in order.
type Batch struct {
	EventSource      string
	BootstrapServers string
	Records          []Record
}

// Partitions returns the batch split per partition, in Records' order.
func (b *Batch) Partitions() [][]Record {
	var out [][]Record
	for i := 0; i < len(b.Records); {
		j := i
		for j < len(b.Records) && b.Records[j].Topic == b.Records[i].Topic && b.Records[j].Partition == b.Records[i].Partition {
			j++
		}
		out = append(out, b.Records[i:j])
		i = j
	}
	return out
}

// Decode turns an event into a Batch.
func Decode(ev events.KafkaEvent) (Batch, error) {
	b := Batch{EventSource: ev.EventSource, BootstrapServers: ev.BootstrapServers}
	for key, recs := range ev.Records {
		for _, kr := range recs {
			r := Record{Topic: kr.Topic, Partition: int32(kr.Partition), Offset: kr.Offset,
				Timestamp: kr.Timestamp.Time, TimestampType: kr.TimestampType}
			var err error
			if kr.Key != "" {
				if r.Key, err = base64.StdEncoding.DecodeString(kr.Key); err != nil {
					return Batch{}, fmt.Errorf("%s offset %d: key: %w", key, kr.Offset, err)
				}
			}
			if kr.Value != "" {
				if r.Value, err = base64.StdEncoding.DecodeString(kr.Value); err != nil {
					return Batch{}, fmt.Errorf("%s offset %d: value: %w", key, kr.Offset, err)
				}
			}
			for _, hm := range kr.Headers {
				names := make([]string, 0, len(hm))
				for k := range hm {
					names = append(names, k)
				}
				sort.Strings(names)
				for _, k := range names {
					r.Headers = append(r.Headers, Header{Key: k, Value: []byte(hm[k])})
				}
			}
			b.Records = append(b.Records, r)
		}
	}
	sort.SliceStable(b.Records, func(i, j int) bool {
		x, y := &b.Records[i], &b.Records[j]
		if x.Topic != y.Topic {
			return x.Topic < y.Topic
		}
		if x.Partition != y.Partition {
			return x.Partition < y.Partition
		}
		return x.Offset < y.Offset
	})
	return b, nil
}

// Handler processes one batch.
type Handler func(ctx context.Context, b Batch) error

// Wrap adapts h to aws-lambda-go's handler signature.
func Wrap(h Handler) func(context.Context, events.KafkaEvent) error {
	return func(ctx context.Context, ev events.KafkaEvent) error {
		b, err := Decode(ev)
		if err != nil {
			return err
		}
		return h(ctx, b)
	}
}

// Start runs h as the function's handler (lambda.Start).
func Start(h Handler) { lambda.Start(Wrap(h)) }
