package compare

import (
	"fmt"
	"strconv"
)

// Fsync is the durability policy both brokers are configured with.
type Fsync string

const (
	// FsyncPageCache acknowledges writes once they are in the OS page
	// cache, with no fsync on the write path (Kafka's default; data is
	// safe against a process crash, not a power loss of the node).
	FsyncPageCache Fsync = "page-cache"
	// FsyncPerAck fsyncs every appended batch before it is acknowledged.
	FsyncPerAck Fsync = "per-ack"
)

// ParseFsync parses a --fsync value.
func ParseFsync(s string) (Fsync, error) {
	switch Fsync(s) {
	case FsyncPageCache, FsyncPerAck:
		return Fsync(s), nil
	}
	return "", fmt.Errorf("fsync %q: want %s or %s", s, FsyncPageCache, FsyncPerAck)
}

// KafkaProperties are the server.properties lines that set the policy on
// Apache Kafka, written out even where they equal Kafka's defaults.
func (f Fsync) KafkaProperties() map[string]string {
	if f == FsyncPerAck {
		// Flush the log after every append (a produce request's batch),
		// before the append returns and so before the ack.
		return map[string]string{"log.flush.interval.messages": "1"}
	}
	return map[string]string{
		"log.flush.interval.messages": strconv.FormatInt(1<<63-1, 10),
		// log.flush.interval.ms unset: Kafka then uses
		// log.flush.scheduler.interval.ms, whose default never fires.
	}
}

// KafkiFlags are the brokerd flags that set the policy on Kafki.
func (f Fsync) KafkiFlags() []string {
	onAck := "false"
	if f == FsyncPerAck {
		onAck = "true"
	}
	return []string{"--log.flush.on.ack=" + onAck, "--log.flush.interval=0s", "--log.flush.interval.bytes=0"}
}

// Describe states the policy for the report, for both brokers.
func (f Fsync) Describe() string {
	if f == FsyncPerAck {
		return "fsync before every ack: Kafka log.flush.interval.messages=1, Kafki --log.flush.on.ack=true"
	}
	return "OS page cache, no fsync per ack: Kafka log.flush.interval.messages=" +
		strconv.FormatInt(1<<63-1, 10) + " (its default), Kafki --log.flush.on.ack=false --log.flush.interval=0s (its default)"
}
