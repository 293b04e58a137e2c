package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/internal/poll"
	"github.com/kafki/kafki/tiering"
	"github.com/kafki/kafki/tiering/audit"
	"github.com/kafki/kafki/tiering/cleanup"
	"github.com/kafki/kafki/tiering/mototest"
	"github.com/kafki/kafki/tiering/objstore"
	"github.com/kafki/kafki/tiering/remote"
)

// The tiered crash test: small segments roll several times a second and
// are uploaded, committed and deleted locally all the time, so random
// SIGKILLs land, across runs, between an upload and its commit (leaving a
// COPY_STARTED record and its objects) and between a commit and the local
// delete (leaving a segment both local and remote).
const (
	tierCrashCycles     = 6
	tierCrashPartitions = 2
	tierSegmentBytes    = 8 << 10
	tierLocalRetention  = 16 << 10
	tierMinKillDelay    = 50 * time.Millisecond
	tierMaxKillDelay    = 400 * time.Millisecond
	tierRecordsPerTick  = 2 // every millisecond: ~260 KB/s, ~30 segment rolls/s
	// tierSettleTimeout bounds how long the last broker run may take to
	// upload what was sealed and delete its local copies.
	tierSettleTimeout = 30 * time.Second
)

// TestTieredCrashRecovery runs the crash schedule against a local-directory
// tier and an S3 tier (moto_server, path-style).
func TestTieredCrashRecovery(t *testing.T) {
	t.Run("dir", func(t *testing.T) {
		tierDir := t.TempDir()
		runTieredCrash(t, []string{"--tier.dir=" + tierDir}, func(dataDir string) tiering.Location {
			return tiering.Location{Dir: tierDir}
		})
	})
	t.Run("s3", func(t *testing.T) {
		moto := mototest.StartT(t)
		bucket := fmt.Sprintf("crash-%d", time.Now().UnixNano())
		s3, err := objstore.NewS3(moto.Config, objstore.S3Options{Bucket: bucket, UsePathStyle: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := s3.CreateBucket(t.Context()); err != nil {
			t.Fatalf("create bucket: %v", err)
		}
		// The broker subprocess inherits the test's environment (the
		// harness only drops KAFKI_*), and so does tiering.Open below.
		t.Setenv("AWS_ENDPOINT_URL", moto.Endpoint)
		t.Setenv("AWS_ACCESS_KEY_ID", mototest.AccessKeyID)
		t.Setenv("AWS_SECRET_ACCESS_KEY", mototest.SecretAccessKey)
		t.Setenv("AWS_REGION", mototest.Region)
		runTieredCrash(t, []string{"--tier.s3.bucket=" + bucket, "--tier.s3.path-style=true"}, func(dataDir string) tiering.Location {
			return tiering.Location{S3Bucket: bucket, S3PathStyle: true, MetadataDir: filepath.Join(dataDir, "__tier")}
		})
	})
}

// runTieredCrash produces acks=all under a kill/restart schedule to a
// broker with the given tier flags, then checks:
//
//   - every acknowledged record is read back exactly once at its
//     acknowledged offset, from offset 0 across the remote tier into the
//     local tail (and the local logs no longer start at 0, so the remote
//     tier really served the head);
//   - the tier's audit (with checksums) finds no missing, short or
//     corrupt object any committed segment names;
//   - the crash leftovers (abandoned COPY_STARTED uploads, orphaned
//     objects) are removed by the sweeper, after which the audit is clean
//     and every record is still readable.
func runTieredCrash(t *testing.T, tierFlags []string, loc func(dataDir string) tiering.Location) {
	seed := crashSeed(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kill schedule seed %d: rerun with KAFKI_E2E_SEED=%d", seed, seed)
		}
	})
	rng := rand.New(rand.NewPCG(uint64(seed), 0x7469657273))

	flags := append([]string{
		"--log.flush.on.ack=true",
		"--log.retention.check.interval=50ms",
		"--tier.sweep.interval=100ms",
	}, tierFlags...)
	b := StartBroker(t, Options{Flags: flags})
	const topic = "tiercrash"
	createTieredTopic(t, b.Addr, topic)

	acks := newAckLog()
	var clientLog logBuffer
	cl := newClient(t, b.Addr,
		kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(30*time.Second),
		kgo.MaxBufferedRecords(2000),
		kgo.WithLogger(kgo.BasicLogger(&clientLog, kgo.LogLevelInfo, nil)),
	)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("producer client log (last %d bytes):\n%s", maxLogShown/2, tail(clientLog.String(), maxLogShown/2))
		}
	})

	prod := startPacedProducer(t, cl, tierCrashPartitions, tierRecordsPerTick, acks)

	var lastKillAcked int
	for cycle := 1; cycle <= tierCrashCycles; cycle++ {
		acks.awaitProgress(t, b, fmt.Sprintf("cycle %d", cycle))
		// The random delay is the fault injection, not a wait for a
		// condition: it decides where in the upload pipeline the kill
		// lands.
		delay := tierMinKillDelay + time.Duration(rng.Int64N(int64(tierMaxKillDelay-tierMinKillDelay)))
		time.Sleep(delay)
		b.Kill()
		lastKillAcked = acks.acked()
		t.Logf("cycle %d: killed %v after load resumed; %d records acknowledged so far", cycle, delay.Round(time.Millisecond), acks.acked())
		b.Start()
	}
	acks.awaitProgress(t, b, "final run")
	total := prod.stop(t)
	t.Logf("%d records handed to the producer, %d acknowledged, errors: %s", total, acks.acked(), acks.errorSummary())
	if acks.acked() < lastKillAcked+1 {
		t.Fatalf("the last broker run acknowledged nothing (%d acknowledged before the last kill, %d in all)", lastKillAcked, acks.acked())
	}

	// The last run uploads what is sealed and deletes local copies past
	// local.retention.bytes: then offset 0 is only in the remote tier.
	if err := poll.Within(t.Context(), tierSettleTimeout, "offset 0 only in the remote tier", func() error {
		for p := int32(0); p < tierCrashPartitions; p++ {
			start, err := localLogStart(filepath.Join(b.DataDir, fmt.Sprintf("%s-%d", topic, p)))
			if err != nil {
				return err
			}
			if start == 0 {
				return fmt.Errorf("partition %d: the local log still starts at 0", p)
			}
		}
		return nil
	}); err != nil {
		t.Fatalf("local retention never deleted uploaded segments: %v", err)
	}

	acked := acks.snapshot()
	checkRead := func(when string) {
		t.Helper()
		got := readAll(t, b.Addr, topic, 60*time.Second)
		problems, present := crashLogProblems(got, acked)
		t.Logf("%s: the log holds %d records; %d acknowledged", when, present, len(acked))
		if len(acked) == 0 {
			t.Fatalf("no record was acknowledged: the test proved nothing")
		}
		if len(problems) > 0 {
			t.Fatalf("%s: %d problems in the log read from offset 0:\n  %s", when, len(problems), strings.Join(firstN(problems, 25), "\n  "))
		}
	}
	checkRead("after the crashes")

	// Audit and sweep with the broker stopped, so the audit sees a
	// quiescent tier and the offline sweep races no upload.
	b.Stop(stopTimeout)
	tctx, tcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer tcancel()
	store, meta, err := tiering.Open(tctx, loc(b.DataDir))
	if err != nil {
		t.Fatalf("open the tier: %v", err)
	}
	var leftovers int
	for p := int32(0); p < tierCrashPartitions; p++ {
		tp := remote.TopicPartition{Topic: topic, Partition: p}
		n, err := auditTier(tctx, store, meta, tp, true)
		if err != nil {
			// Reported, and the rest still checked with an audit of
			// existence and sizes only.
			t.Errorf("audit with checksums after the crashes: %v", err)
			if n, err = auditTier(tctx, store, meta, tp, false); err != nil {
				t.Fatalf("audit after the crashes: %v", err)
			}
		}
		leftovers += n
	}
	t.Logf("crash leftovers in the tier (abandoned uploads, orphaned objects): %d", leftovers)

	// The broker's sweeper only removes leftovers older than its grace
	// period (cleanup.DefaultGrace, an hour, not configurable), so the
	// test runs the same sweeper with a grace of 1ns: everything the
	// crashes left must go, and nothing committed with it.
	sw := cleanup.NewSweeper(store, meta, time.Nanosecond, nil)
	for p := int32(0); p < tierCrashPartitions; p++ {
		tp := remote.TopicPartition{Topic: topic, Partition: p}
		res, err := sw.Sweep(tctx, tp, 0)
		if err != nil {
			t.Fatalf("sweep %v: %v", tp, err)
		}
		t.Logf("sweep %v: %+v", tp, res)
		n, err := auditTier(tctx, store, meta, tp, false)
		if err != nil {
			t.Fatalf("audit after the sweep: %v", err)
		}
		if n != 0 {
			t.Errorf("%v: %d crash leftovers remain after a sweep with no grace", tp, n)
		}
	}
	b.Start()
	checkRead("after the sweep")
}

// createTieredTopic creates topic with remote storage, small segments and
// a small local retention.
func createTieredTopic(t *testing.T, addr, topic string) {
	t.Helper()
	cl := newClient(t, addr)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, tierCrashPartitions, 1, map[string]*string{
		"remote.storage.enable": kadm.StringPtr("true"),
		"segment.bytes":         kadm.StringPtr(strconv.Itoa(tierSegmentBytes)),
		"local.retention.bytes": kadm.StringPtr(strconv.Itoa(tierLocalRetention)),
	}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create tiered topic %q: %v", topic, err)
	}
}

// auditTier verifies tp (reading every committed object whole with
// checksums): any problem with a committed
// segment's objects is returned as an error; crash leftovers (records not
// COPY_FINISHED, objects no record names) are counted.
func auditTier(ctx context.Context, store objstore.Store, meta remote.Store, tp remote.TopicPartition, checksums bool) (leftovers int, err error) {
	rep, err := audit.Verify(ctx, store, meta, tp, checksums)
	if err != nil {
		return 0, err
	}
	finished := 0
	for _, s := range rep.Segments {
		if s.State == remote.CopyFinished {
			finished++
		} else {
			leftovers++
		}
	}
	if finished == 0 {
		return 0, fmt.Errorf("%v: no committed remote segment: nothing was tiered", tp)
	}
	var bad []string
	for _, p := range rep.Problems {
		if p.Kind == audit.Orphan {
			leftovers++
			continue
		}
		bad = append(bad, fmt.Sprintf("%s %s (segment %s): %s", p.Kind, p.Key, p.SegmentID, p.Detail))
	}
	if len(bad) > 0 {
		return leftovers, fmt.Errorf("%v: %d committed objects damaged:\n  %s", tp, len(bad), strings.Join(firstN(bad, 25), "\n  "))
	}
	return leftovers, nil
}

// localLogStart returns the smallest base offset of the .log segment files
// in a partition directory.
func localLogStart(dir string) (int64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	start := int64(-1)
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".log")
		if !ok {
			continue
		}
		base, err := strconv.ParseInt(name, 10, 64)
		if err != nil {
			continue // not a segment
		}
		if start < 0 || base < start {
			start = base
		}
	}
	if start < 0 {
		return 0, errors.New(dir + ": no segment files")
	}
	return start, nil
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
