package triggers

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"time"
)

// Record is one Kafka record as a trigger handles it.
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	Timestamp time.Time
	// LogAppendTime is the record's timestamp type (Kafka's attribute bit).
	LogAppendTime bool
	Key, Value    []byte // nil: absent (null)
	Headers       []Header
}

// Header is one record header.
type Header struct {
	Key   string
	Value []byte
}

// TimestampType is AWS's name of the record's timestamp type.
func (r *Record) TimestampType() string {
	if r.LogAppendTime {
		return "LOG_APPEND_TIME"
	}
	return "CREATE_TIME"
}

// encodeRecord writes one record as AWS's self-managed Kafka event does:
// key and value base64 (omitted when null), headers a list of one-entry
// maps from name to the value's bytes as signed (Java) byte numbers.
func encodeRecord(buf *bytes.Buffer, r *Record) {
	buf.WriteString(`{"topic":`)
	writeJSONString(buf, r.Topic)
	buf.WriteString(`,"partition":`)
	buf.WriteString(strconv.FormatInt(int64(r.Partition), 10))
	buf.WriteString(`,"offset":`)
	buf.WriteString(strconv.FormatInt(r.Offset, 10))
	buf.WriteString(`,"timestamp":`)
	buf.WriteString(strconv.FormatInt(r.Timestamp.UnixMilli(), 10))
	buf.WriteString(`,"timestampType":"`)
	buf.WriteString(r.TimestampType())
	buf.WriteByte('"')
	if r.Key != nil {
		buf.WriteString(`,"key":"`)
		buf.WriteString(base64.StdEncoding.EncodeToString(r.Key))
		buf.WriteByte('"')
	}
	if r.Value != nil {
		buf.WriteString(`,"value":"`)
		buf.WriteString(base64.StdEncoding.EncodeToString(r.Value))
		buf.WriteByte('"')
	}
	buf.WriteString(`,"headers":[`)
	for i, h := range r.Headers {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteByte('{')
		writeJSONString(buf, h.Key)
		buf.WriteString(":[")
		for j, b := range h.Value {
			if j > 0 {
				buf.WriteByte(',')
			}
			buf.WriteString(strconv.Itoa(int(int8(b))))
		}
		buf.WriteString("]}")
	}
	buf.WriteString("]}")
}

func writeJSONString(buf *bytes.Buffer, s string) {
	b, _ := json.Marshal(s)
	buf.Write(b)
}

// EncodedSize is the bytes r adds to a payload (with its separating comma).
func EncodedSize(r *Record) int {
	var b bytes.Buffer
	encodeRecord(&b, r)
	return b.Len() + 1
}

// payloadOverhead is the event's size without records, for one partition.
func payloadOverhead(bootstrap, topic string, partition int32) int {
	return len(BuildPayload(bootstrap, []*Record{{Topic: topic, Partition: partition}})) - EncodedSize(&Record{Topic: topic, Partition: partition}) + 1
}

// BuildPayload is the invocation payload of records (of one or more
// partitions, each in offset order): AWS's self-managed Kafka event.
func BuildPayload(bootstrap string, records []*Record) []byte {
	var buf bytes.Buffer
	buf.WriteString(`{"eventSource":"SelfManagedKafka","bootstrapServers":`)
	writeJSONString(&buf, bootstrap)
	buf.WriteString(`,"records":{`)
	type tp struct {
		t string
		p int32
	}
	var order []tp
	groups := map[tp][]*Record{}
	for _, r := range records {
		k := tp{r.Topic, r.Partition}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	for i, k := range order {
		if i > 0 {
			buf.WriteByte(',')
		}
		writeJSONString(&buf, k.t+"-"+strconv.FormatInt(int64(k.p), 10))
		buf.WriteString(":[")
		for j, r := range groups[k] {
			if j > 0 {
				buf.WriteByte(',')
			}
			encodeRecord(&buf, r)
		}
		buf.WriteByte(']')
	}
	buf.WriteString("}}")
	return buf.Bytes()
}
