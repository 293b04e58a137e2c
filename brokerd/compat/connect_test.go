package compat

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kafki/kafki/internal/poll"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Connect's internal topics as the test names them, and the partition
// counts Connect gives them by default.
var connectTopics = map[string]int{"connect-configs": 1, "connect-offsets": 25, "connect-status": 5}

// TestConnectDistributedFileStream runs Kafka's own distributed Connect
// worker (ConnectDistributed, Kafka 4.3 jars) against a real brokerd:
//
//  1. the worker creates its config, offset and status topics, which must
//     be compacted on Kafki (cleanup.policy=compact, as Connect asks; it
//     refuses to start on non-compacted ones);
//  2. a FileStream source copies a file into a topic and a FileStream sink
//     copies the topic into another file, which must equal the source
//     byte for byte;
//  3. once both connectors' offsets are committed (read back through the
//     worker's REST API, KIP-875), the worker is SIGKILLed, lines are
//     appended, and a new worker resumes from the committed offsets: the
//     sink ends exactly equal to the source, no line twice;
//  4. the worker is SIGKILLed again while lines are in flight. Connect
//     then promises at-least-once only: source and sink resume from their
//     last committed offsets, so lines after those are delivered again.
//     The sink must hold every line of the source, nothing else, and
//     repeat lines only as replays (a run that starts again at or before
//     where the previous one stopped; a forward jump is a lost line).
func TestConnectDistributedFileStream(t *testing.T) {
	k := kafkaTools(t)
	b := startBroker(t, "--group.initial.rebalance.delay=0s")
	ctx := t.Context()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	const topic = "connect-test"
	// One partition: the sink writes in topic order, so the files compare.
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}

	dir := t.TempDir()
	src, sink := filepath.Join(dir, "source.txt"), filepath.Join(dir, "sink.txt")
	appendLines(t, src, 1, 1000)

	port := freeLoopbackPort(t)
	props := filepath.Join(dir, "worker.properties")
	writeProperties(t, props, connectWorkerProperties(b.Bootstrap(), port))
	api := newREST(port)

	w := k.startJVM(t, "worker-1", connectDistributed, props)
	waitWorker(t, api, w)
	checkConnectTopics(t, adm)

	putConnector(t, api, "file-source", map[string]string{
		"connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector",
		"tasks.max":       "1",
		"file":            src,
		"topic":           topic,
	})
	putConnector(t, api, "file-sink", map[string]string{
		"connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
		"tasks.max":       "1",
		"file":            sink,
		"topics":          topic,
	})
	waitRunning(t, api, w, "file-source", "file-sink")
	waitSameFile(t, src, sink, w)
	waitCommitted(t, api, adm, src, topic, w)

	// 3. Killed with everything committed: resumes exactly.
	w.kill(t)
	appendLines(t, src, 1001, 1500)
	w = k.startJVM(t, "worker-2", connectDistributed, props)
	waitWorker(t, api, w)
	waitRunning(t, api, w, "file-source", "file-sink")
	waitSameFile(t, src, sink, w)
	waitCommitted(t, api, adm, src, topic, w)

	// 4. Killed with lines in flight: at-least-once.
	appendLines(t, src, 1501, 4000)
	waitFor(t, connectTimeout, func() string { return "no line past 1500 reached the sink" }, func() bool {
		return len(readLines(t, sink)) > 1500
	})
	w.kill(t)
	w = k.startJVM(t, "worker-3", connectDistributed, props)
	waitWorker(t, api, w)
	waitRunning(t, api, w, "file-source", "file-sink")
	// Once both offsets are committed at the ends nothing more is written.
	waitCommitted(t, api, adm, src, topic, w)
	want, got := readLines(t, src), readLines(t, sink)
	runs, err := replays(want, got)
	if err != nil {
		t.Fatalf("sink after a SIGKILL with lines in flight: %v", err)
	}
	t.Logf("after the SIGKILL in flight the sink holds %d lines for %d source lines: %d delivered twice, in %d runs", len(got), len(want), len(got)-len(want), runs)
	if errs := w.errors(); len(errs) > 0 {
		t.Errorf("worker logged errors:\n%s", strings.Join(errs, "\n"))
	}
}

// connectWorkerProperties is a distributed worker's configuration on
// bootstrap with its REST API on 127.0.0.1:port. Timeouts are shortened
// so that a killed worker's group member (and its sink task's consumer)
// expires in 6 s, Kafki's smallest session timeout, not Connect's 10 s
// and 45 s.
func connectWorkerProperties(bootstrap, port string) map[string]string {
	return map[string]string{
		"bootstrap.servers":    bootstrap,
		"group.id":             "kafki-connect-test",
		"key.converter":        "org.apache.kafka.connect.storage.StringConverter",
		"value.converter":      "org.apache.kafka.connect.storage.StringConverter",
		"config.storage.topic": "connect-configs",
		"offset.storage.topic": "connect-offsets",
		"status.storage.topic": "connect-status",
		// -1: the broker's default.replication.factor (CreateTopics v4+).
		"config.storage.replication.factor": "-1",
		"offset.storage.replication.factor": "-1",
		"status.storage.replication.factor": "-1",
		"offset.flush.interval.ms":          "1000",
		"listeners":                         "http://127.0.0.1:" + port,
		"rest.advertised.host.name":         "127.0.0.1",
		"plugin.discovery":                  "service_load",
		"session.timeout.ms":                "6000",
		"heartbeat.interval.ms":             "2000",
		"scheduled.rebalance.max.delay.ms":  "0",
		"consumer.session.timeout.ms":       "6000",
		"consumer.heartbeat.interval.ms":    "2000",
	}
}

// waitWorker waits until the worker's REST API answers and reports
// Kafki's cluster id, and its herder has joined the group (GET /connectors
// answers only then).
func waitWorker(t *testing.T, api *rest, w *jvm) {
	t.Helper()
	poll.Must(t, connectTimeout, "connect worker", func() error {
		if w.proc.Done() {
			t.Fatalf("%s exited: %v\n%s", w.name, w.proc.Err(), tail(w.log(), 40))
		}
		var root struct {
			Version   string `json:"version"`
			ClusterID string `json:"kafka_cluster_id"`
		}
		if err := api.do(t.Context(), "GET", "/", nil, &root); err != nil {
			return err
		}
		if root.ClusterID != "kafki-local" {
			t.Fatalf("worker reports kafka_cluster_id %q, want Kafki's kafki-local", root.ClusterID)
		}
		var names []string
		return api.do(t.Context(), "GET", "/connectors", nil, &names)
	})
}

// checkConnectTopics checks on Kafki that the worker created its three
// topics with Connect's partition counts and cleanup.policy=compact.
func checkConnectTopics(t *testing.T, adm *kadm.Client) {
	t.Helper()
	names := make([]string, 0, len(connectTopics))
	for n := range connectTopics {
		names = append(names, n)
	}
	details, err := adm.ListTopics(t.Context(), names...)
	if err != nil {
		t.Fatalf("list connect topics: %v", err)
	}
	for name, parts := range connectTopics {
		d, ok := details[name]
		if !ok || d.Err != nil {
			t.Fatalf("worker did not create %s: %v", name, d.Err)
		}
		if len(d.Partitions) != parts {
			t.Errorf("%s has %d partitions, want Connect's default %d", name, len(d.Partitions), parts)
		}
	}
	rcs, err := adm.DescribeTopicConfigs(t.Context(), names...)
	if err != nil {
		t.Fatalf("describe connect topics' configs: %v", err)
	}
	for _, rc := range rcs {
		if rc.Err != nil {
			t.Fatalf("describe %s: %v", rc.Name, rc.Err)
		}
		found := false
		for _, c := range rc.Configs {
			if c.Key == "cleanup.policy" {
				found = true
				if c.MaybeValue() != "compact" || c.Source != 1 { // DYNAMIC_TOPIC_CONFIG: set by CreateTopics
					t.Errorf("%s: cleanup.policy=%s (source %v), want compact set on the topic", rc.Name, c.MaybeValue(), c.Source)
				}
			}
		}
		if !found {
			t.Errorf("%s: no cleanup.policy in DescribeConfigs", rc.Name)
		}
	}
}

func putConnector(t *testing.T, api *rest, name string, cfg map[string]string) {
	t.Helper()
	if err := api.do(t.Context(), "PUT", "/connectors/"+name+"/config", cfg, nil); err != nil {
		t.Fatalf("create connector %s: %v", name, err)
	}
}

// waitRunning waits until each connector and its tasks run, failing at
// once when one failed.
func waitRunning(t *testing.T, api *rest, w *jvm, names ...string) {
	t.Helper()
	for _, name := range names {
		poll.Must(t, connectTimeout, "connector "+name, func() error {
			if w.proc.Done() {
				t.Fatalf("%s exited: %v", w.name, w.proc.Err())
			}
			var st connectorStatus
			if err := api.do(t.Context(), "GET", "/connectors/"+name+"/status", nil, &st); err != nil {
				return err
			}
			for _, task := range st.Tasks {
				if task.State == "FAILED" {
					t.Fatalf("connector %s task %d failed: %s", name, task.ID, task.Trace)
				}
			}
			return st.running()
		})
	}
}

// waitSameFile waits until sink's bytes equal src's, failing at once when
// sink holds more lines than src (a duplicate where none is allowed).
func waitSameFile(t *testing.T, src, sink string, w *jvm) {
	t.Helper()
	want, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	poll.Must(t, connectTimeout, "sink file", func() error {
		got, err := os.ReadFile(sink)
		if err != nil {
			return err
		}
		if bytes.Equal(got, want) {
			return nil
		}
		if bytes.Count(got, []byte("\n")) >= bytes.Count(want, []byte("\n")) {
			t.Fatalf("sink has %d bytes, %d lines, and differs from the source's %d bytes, %d lines", len(got), bytes.Count(got, []byte("\n")), len(want), bytes.Count(want, []byte("\n")))
		}
		if w.proc.Done() {
			t.Fatalf("%s exited: %v", w.name, w.proc.Err())
		}
		return fmt.Errorf("sink has %d of %d bytes", len(got), len(want))
	})
}

// connectorOffsets is GET /connectors/NAME/offsets (KIP-875).
type connectorOffsets struct {
	Offsets []struct {
		Partition map[string]any `json:"partition"`
		Offset    map[string]any `json:"offset"`
	} `json:"offsets"`
}

// offset returns the number under key of the only partition's offset.
func (o connectorOffsets) offset(key string) (int64, error) {
	if len(o.Offsets) != 1 {
		return 0, fmt.Errorf("%d partitions with offsets, want 1", len(o.Offsets))
	}
	v, ok := o.Offsets[0].Offset[key].(float64)
	if !ok {
		return 0, fmt.Errorf("offset %v has no number %s", o.Offsets[0].Offset, key)
	}
	return int64(v), nil
}

// waitCommitted waits until the source connector's committed position is
// the end of src and the sink's committed offset is the end of topic: the
// worker has then nothing to redo after a crash.
func waitCommitted(t *testing.T, api *rest, adm *kadm.Client, src, topic string, w *jvm) {
	t.Helper()
	fi, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	poll.Must(t, connectTimeout, "committed offsets", func() error {
		if w.proc.Done() {
			t.Fatalf("%s exited: %v", w.name, w.proc.Err())
		}
		var so, ko connectorOffsets
		if err := api.do(t.Context(), "GET", "/connectors/file-source/offsets", nil, &so); err != nil {
			return err
		}
		pos, err := so.offset("position")
		if err != nil {
			return fmt.Errorf("file-source: %w", err)
		}
		if pos != fi.Size() {
			return fmt.Errorf("file-source committed position %d of %d bytes", pos, fi.Size())
		}
		ends, err := adm.ListEndOffsets(t.Context(), topic)
		if err != nil {
			return err
		}
		end, _ := ends.Lookup(topic, 0)
		if err := api.do(t.Context(), "GET", "/connectors/file-sink/offsets", nil, &ko); err != nil {
			return err
		}
		off, err := ko.offset("kafka_offset")
		if err != nil {
			return fmt.Errorf("file-sink: %w", err)
		}
		if off != end.Offset {
			return fmt.Errorf("file-sink committed offset %d, topic ends at %d", off, end.Offset)
		}
		return nil
	})
}

// appendLines appends lines "line-from" to "line-to" to path.
func appendLines(t *testing.T, path string, from, to int) {
	t.Helper()
	var b strings.Builder
	for i := from; i <= to; i++ {
		b.WriteString("line-" + strconv.Itoa(i) + "\n")
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	// One write: the source task never sees half a line.
	if _, err := f.WriteString(b.String()); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return lines(string(b))
}

// replays checks that got is want (distinct lines) delivered at least
// once in order: a sequence of runs, each a contiguous part of want that
// starts at or before the line after the previous run's end (a replay
// from an earlier committed offset, never a jump forward), the last
// ending at want's last line, with no line not in want. It returns the
// number of runs.
func replays(want, got []string) (int, error) {
	pos := make(map[string]int, len(want))
	for i, l := range want {
		pos[l] = i
	}
	runs, last := 0, -1 // last: index in want of the line before
	for n, l := range got {
		i, ok := pos[l]
		switch {
		case !ok:
			return runs, fmt.Errorf("sink line %d %q is not in the source", n+1, l)
		case i > last+1:
			return runs, fmt.Errorf("sink line %d is %q after %q: lines in between are missing", n+1, l, lineAt(want, last))
		case i != last+1 || n == 0:
			runs++
		}
		last = i
	}
	if last != len(want)-1 {
		return runs, fmt.Errorf("sink ends at %q, source at %q", lineAt(want, last), lineAt(want, len(want)-1))
	}
	return runs, nil
}

func lineAt(ls []string, i int) string {
	if i < 0 || i >= len(ls) {
		return "(none)"
	}
	return ls[i]
}

// TestReplays checks the at-least-once check itself: replays pass, a lost
// line, a foreign line or a missing tail fail.
func TestReplays(t *testing.T) {
	want := []string{"a", "b", "c", "d"}
	for _, tc := range []struct {
		got  []string
		runs int
		ok   bool
	}{
		{[]string{"a", "b", "c", "d"}, 1, true},
		{[]string{"a", "b", "c", "b", "c", "d"}, 2, true},
		{[]string{"a", "b", "a", "b", "c", "c", "d"}, 3, true},
		{[]string{"a", "c", "d"}, 1, false},
		{[]string{"a", "b", "x", "c", "d"}, 1, false},
		{[]string{"a", "b", "c"}, 1, false},
		{[]string{"b", "c", "d"}, 0, false},
	} {
		runs, err := replays(want, tc.got)
		if (err == nil) != tc.ok || (tc.ok && runs != tc.runs) {
			t.Errorf("replays(%q) = %d runs, %v; want %d runs, ok %v", tc.got, runs, err, tc.runs, tc.ok)
		}
	}
}
