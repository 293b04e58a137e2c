package triggers_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/loadtest/brokerproc"
)

// TestSoakRepeatedRunnerKills (make lambdas-soak): three kafki-triggers
// processes under a steady stream, one SIGKILLed and restarted every few
// seconds for KAFKI_LAMBDAS_SOAK_ROUNDS rounds (default 10); every record
// must arrive, in order per partition, and the duplicates are reported.
func TestSoakRepeatedRunnerKills(t *testing.T) {
	if os.Getenv("KAFKI_LAMBDAS_SOAK") == "" {
		t.Skip("soak: make lambdas-soak")
	}
	rounds := 10
	if v, err := strconv.Atoi(os.Getenv("KAFKI_LAMBDAS_SOAK_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	e := setup(t)
	p := startProcBroker(t, e)
	e.createTable(t, "soak-rec", true)
	e.createFunction(t, "soak-recorder", "recorder", map[string]string{"RECORDER_TABLE": "soak-rec", "RECORDER_NAME": "soak"})
	cl := e.kafkaAt(t, p.broker, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	createTopic(t, cl, "soak", 12)
	if _, stderr, code := p.cli(t, "triggers", "create", "--trigger", "soak", "--function", "soak-recorder", "--topic", "soak",
		"--starting-position", "TRIM_HORIZON", "--batch-size", "50", "--batching-window", "200ms"); code != 0 {
		t.Fatal(stderr)
	}
	runners := []*brokerproc.Process{p.startRunner(t, "r0"), p.startRunner(t, "r1"), p.startRunner(t, "r2")}
	ends := map[int32]int64{}
	total := 0
	stop := make(chan struct{})
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			var recs []*kgo.Record
			for j := 0; j < 100; j++ {
				recs = append(recs, &kgo.Record{Topic: "soak", Value: []byte(fmt.Sprint(i*100 + j))})
			}
			for _, r := range cl.ProduceSync(context.Background(), recs...) {
				if r.Err != nil {
					t.Errorf("produce: %v", r.Err)
					return
				}
				ends[r.Record.Partition] = max(ends[r.Record.Partition], r.Record.Offset+1)
				total++
			}
			time.Sleep(50 * time.Millisecond) // the stream's pace
		}
	}()
	for round := 0; round < rounds; round++ {
		time.Sleep(8 * time.Second) // the fault schedule, not a synchronisation
		i := round % len(runners)
		if err := runners[i].Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-runners[i].Exited()
		runners[i] = p.startRunner(t, fmt.Sprintf("r%d-%d", i, round))
	}
	close(stop)
	<-produced
	eventually(t, 3*time.Minute, "everything delivered", func() (bool, string) {
		got := map[string]bool{}
		for _, b := range e.recorded(t, "soak-rec", "soak") {
			for _, o := range b.offsets {
				got[fmt.Sprint(b.partition, "/", o)] = true
			}
		}
		return len(got) == total, fmt.Sprintf("%d of %d", len(got), total)
	})
	dups := checkOrder(t, e.recorded(t, "soak-rec", "soak"), "soak", ends)
	t.Logf("%d rounds of kills, %d records, all delivered in order per partition; %d duplicates (%.2f%%)", rounds, total, dups, 100*float64(dups)/float64(total))
}
