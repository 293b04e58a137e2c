package server_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/internal/testbroker"
)

// describeLogDirs sends one DescribeLogDirs request at version v over a raw
// connection (so each version is exercised, not only what kgo negotiates).
// parts maps topic to partitions; a nil map asks for every topic.
func describeLogDirs(t *testing.T, addr string, v int16, parts map[string][]int32) *kmsg.DescribeLogDirsResponse {
	t.Helper()
	req := kmsg.NewPtrDescribeLogDirsRequest()
	req.SetVersion(v)
	if parts != nil {
		req.Topics = []kmsg.DescribeLogDirsRequestTopic{}
		for topic, ps := range parts {
			rt := kmsg.NewDescribeLogDirsRequestTopic()
			rt.Topic, rt.Partitions = topic, ps
			req.Topics = append(req.Topics, rt)
		}
	}
	c := dialRaw(t, addr)
	resp := c.roundTrip(req, 1).(*kmsg.DescribeLogDirsResponse)
	if resp.ErrorCode != 0 {
		t.Fatalf("v%d: top-level error code %d", v, resp.ErrorCode)
	}
	if len(resp.Dirs) != 1 {
		t.Fatalf("v%d: %d log dirs, want 1", v, len(resp.Dirs))
	}
	if d := resp.Dirs[0]; d.ErrorCode != 0 {
		t.Fatalf("v%d: dir %s: error code %d", v, d.Dir, d.ErrorCode)
	}
	return resp
}

// sizes returns "topic/partition" -> size of the single dir's partitions,
// failing on duplicates or a future replica.
func sizes(t *testing.T, d kmsg.DescribeLogDirsResponseDir) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, dt := range d.Topics {
		for _, p := range dt.Partitions {
			k := fmt.Sprintf("%s/%d", dt.Topic, p.Partition)
			if _, dup := out[k]; dup {
				t.Errorf("%s listed twice", k)
			}
			if p.IsFuture || p.OffsetLag != 0 {
				t.Errorf("%s: future %v, offset lag %d; want false, 0", k, p.IsFuture, p.OffsetLag)
			}
			out[k] = p.Size
		}
	}
	return out
}

func TestDescribeLogDirsSizesGrowWithProduce(t *testing.T) {
	dataDir := t.TempDir()
	addr := testbroker.Start(t, testbroker.WithDataDir(dataDir))
	cl := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	createTopic(t, cl, "ld", 2, nil)
	ask := map[string][]int32{"ld": {0, 1, 9}, "missing": {0}}

	before := describeLogDirs(t, addr, 4, ask)
	d := before.Dirs[0]
	wantDir, err := filepath.Abs(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if d.Dir != wantDir {
		t.Errorf("dir %q, want the data dir %q", d.Dir, wantDir)
	}
	if d.TotalBytes <= 0 || d.UsableBytes <= 0 || d.UsableBytes > d.TotalBytes {
		t.Errorf("total %d, usable %d; want total >= usable > 0", d.TotalBytes, d.UsableBytes)
	}
	s0 := sizes(t, d)
	if len(s0) != 2 || len(d.Topics) != 1 {
		t.Fatalf("answered %v, want ld/0 and ld/1 only (unknown topic and partition omitted)", s0)
	}

	for i := range 50 {
		r := &kgo.Record{Topic: "ld", Partition: 0, Value: fmt.Appendf(nil, "value-%d", i)}
		if err := cl.ProduceSync(ctxT(t), r).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}

	s1 := sizes(t, describeLogDirs(t, addr, 4, ask).Dirs[0])
	if s1["ld/0"] <= s0["ld/0"] {
		t.Errorf("ld/0 size %d after producing, %d before; want it to grow", s1["ld/0"], s0["ld/0"])
	}
	if s1["ld/1"] != s0["ld/1"] {
		t.Errorf("ld/1 size %d, was %d; nothing was produced to it", s1["ld/1"], s0["ld/1"])
	}

	// Asking for the topic with no partition listed answers nothing of it,
	// as Kafka does: only the listed partitions are described.
	if got := sizes(t, describeLogDirs(t, addr, 4, map[string][]int32{"ld": {}}).Dirs[0]); len(got) != 0 {
		t.Errorf("no partitions asked, answered %v", got)
	}
}

func TestDescribeLogDirsEveryVersionAndAllTopics(t *testing.T) {
	addr := testbroker.Start(t)
	cl := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	createTopic(t, cl, "all-a", 1, nil)
	createTopic(t, cl, "all-b", 3, nil)
	if err := cl.ProduceSync(ctxT(t), &kgo.Record{Topic: "all-b", Partition: 2, Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	// Looking for a group coordinator creates __consumer_offsets.
	adm := kadm.NewClient(cl)
	if err := adm.FindGroupCoordinators(ctxT(t), "g").Error(); err != nil {
		t.Fatalf("find coordinator: %v", err)
	}

	for v := int16(1); v <= 4; v++ {
		d := describeLogDirs(t, addr, v, nil).Dirs[0]
		got := sizes(t, d)
		for _, k := range []string{"all-a/0", "all-b/0", "all-b/1", "all-b/2", "__consumer_offsets/0"} {
			if _, ok := got[k]; !ok {
				t.Errorf("v%d: %s missing from every-topic answer %v", v, k, got)
			}
		}
		if got["all-b/2"] <= 0 {
			t.Errorf("v%d: all-b/2 size %d after a produce, want > 0", v, got["all-b/2"])
		}
		if v < 4 && (d.TotalBytes != -1 || d.UsableBytes != -1) {
			t.Errorf("v%d: total %d usable %d; fields are v4+, want the -1 default", v, d.TotalBytes, d.UsableBytes)
		}
	}

	// kadm negotiates through ApiVersions, so this also checks key 35 is
	// advertised.
	all, err := adm.DescribeAllLogDirs(ctxT(t), nil)
	if err != nil {
		t.Fatalf("DescribeAllLogDirs: %v", err)
	}
	found := false
	all.Each(func(d kadm.DescribedLogDir) {
		if d.Err != nil {
			t.Errorf("kadm: dir %s: %v", d.Dir, d.Err)
		}
		if p, ok := d.Topics["all-b"][2]; ok && p.Size > 0 {
			found = true
		}
	})
	if !found {
		t.Errorf("kadm: all-b/2 not listed with a size: %+v", all)
	}
}

func TestDescribeLogDirsAdvertisesVersions1To4(t *testing.T) {
	addr := testbroker.Start(t)
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(3)
	resp := dialRaw(t, addr).roundTrip(req, 1).(*kmsg.ApiVersionsResponse)
	for _, k := range resp.ApiKeys {
		if k.ApiKey == 35 {
			if k.MinVersion != 1 || k.MaxVersion != 4 {
				t.Errorf("DescribeLogDirs advertised %d-%d, want 1-4", k.MinVersion, k.MaxVersion)
			}
			return
		}
	}
	t.Fatal("DescribeLogDirs (35) not advertised")
}
