package server_test

import (
	"os"
	"os/exec"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/batch"
	"github.com/kafki/kafki/brokerd/internal/testbroker"
)

// smallDisk mounts a tmpfs of the given size for the test: a real file
// system that really runs out of space.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		if os.Geteuid() != 0 {
			t.Skipf("mounting a tmpfs needs root: %v %s", err, out)
		}
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

func TestDiskFullGivesStorageErrorAndKeepsAckedData(t *testing.T) {
	dir := smallDisk(t, "2m")
	b := testbroker.StartBroker(t, testbroker.WithDataDir(dir))
	mustCreate(t, b, "full", nil)
	c := dialRaw(t, b.Addr())

	var acked int64
	var code int16
	for i := 0; i < 200 && code == 0; i++ {
		var off int64
		code, off = produceCode(t, c, produceReq("full", 0, -1, batch.Build(records(64, 1000), batch.BuildOptions{})), int32(i))
		if code == 0 {
			if off != acked {
				t.Fatalf("batch %d at offset %d, want %d", i, off, acked)
			}
			acked += 64
		}
	}
	if code != kerr.KafkaStorageError.Code {
		t.Fatalf("after filling the disk: code %d, want KAFKA_STORAGE_ERROR", code)
	}
	if acked == 0 {
		t.Fatal("nothing was acknowledged before the disk filled")
	}
	// The partition stays offline rather than writing past the damage.
	if code, _ := produceCode(t, c, produceReq("full", 0, -1, batch.Build(records(1, 10), batch.BuildOptions{})), 500); code != kerr.KafkaStorageError.Code {
		t.Fatalf("small write after failure: code %d, want KAFKA_STORAGE_ERROR", code)
	}
	// Metadata shows the partition offline: KAFKA_STORAGE_ERROR with this
	// broker, its only replica, in OfflineReplicas.
	mreq := kmsg.NewPtrMetadataRequest()
	mreq.SetVersion(12)
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr("full")
	mreq.Topics = append(mreq.Topics, mt)
	mp := c.roundTrip(mreq, 600).(*kmsg.MetadataResponse).Topics[0].Partitions[0]
	if mp.ErrorCode != kerr.KafkaStorageError.Code || len(mp.OfflineReplicas) != 1 || mp.OfflineReplicas[0] != mp.Leader {
		t.Fatalf("metadata after the failure: code %d, leader %d, offline replicas %v; want KAFKA_STORAGE_ERROR with the leader offline", mp.ErrorCode, mp.Leader, mp.OfflineReplicas)
	}
	// Every acknowledged record is still readable, and nothing else.
	var read int64
	for read < acked {
		req := kmsg.NewPtrFetchRequest()
		req.SetVersion(11)
		req.MaxBytes = 1 << 20
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = "full"
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.FetchOffset, rp.PartitionMaxBytes = read, 1<<20
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := c.roundTrip(req, 1000).(*kmsg.FetchResponse)
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != 0 || len(p.RecordBatches) == 0 {
			t.Fatalf("fetch at %d: code %d, %d bytes", read, p.ErrorCode, len(p.RecordBatches))
		}
		if p.HighWatermark != acked {
			t.Fatalf("high watermark %d, acknowledged %d", p.HighWatermark, acked)
		}
		batches, err := batch.Split(p.RecordBatches)
		if err != nil {
			t.Fatalf("fetched bytes: %v", err)
		}
		for _, bb := range batches {
			h, err := batch.Validate(bb, batch.ValidateOptions{})
			if err != nil {
				t.Fatalf("fetched batch at %d: %v", read, err)
			}
			if h.BaseOffset != read {
				t.Fatalf("batch base %d, want %d", h.BaseOffset, read)
			}
			read = h.LastOffset() + 1
		}
	}
}
