package brokerproc

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestReadyLineRoundTrip(t *testing.T) {
	want := Ready{Ready: true, Bootstrap: "127.0.0.1:4001,127.0.0.1:4002",
		Brokers: []ReadyBroker{
			{ID: 1, Addr: "127.0.0.1:4001", PID: 101, DataDir: "/d/broker-1"},
			{ID: 2, Addr: "127.0.0.1:4002", PID: 102, DataDir: "/d/broker-2"},
		},
		DynamoDB: "http://127.0.0.1:5000", Table: "kafki-dev-cluster", Logs: "/d/brokers.log"}
	var b bytes.Buffer
	if err := WriteReady(&b, want); err != nil {
		t.Fatal(err)
	}
	line := b.String()
	if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "}\n") || !strings.HasPrefix(line, `{"ready":true,"bootstrap":"127.0.0.1:4001,127.0.0.1:4002","brokers":[{"id":1,`) {
		t.Fatalf("not one JSON line in the documented order: %q", line)
	}
	got, ok, err := ParseReady(line)
	if err != nil || !ok {
		t.Fatalf("ParseReady: ok %v, err %v", ok, err)
	}
	if got.Bootstrap != want.Bootstrap || got.DynamoDB != want.DynamoDB || got.Table != want.Table || got.Logs != want.Logs || len(got.Brokers) != 2 || got.Brokers[1] != want.Brokers[1] {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if pids := got.PIDs(); len(pids) != 2 || pids[0] != 101 || pids[1] != 102 {
		t.Fatalf("PIDs %v", pids)
	}
}

func TestParseReadySkipsOtherLinesAndRejectsBadOnes(t *testing.T) {
	for _, l := range []string{"", "Kafki dev cluster: 3 brokers, DynamoDB http://127.0.0.1:1 (moto_server)", "  broker 1  127.0.0.1:1  pid 2  data d", `{"other":1}`} {
		if _, ok, err := ParseReady(l); ok || err != nil {
			t.Errorf("%q: ok %v, err %v; want a line that is not a ready line", l, ok, err)
		}
	}
	for _, l := range []string{
		`{"ready":tru`,
		`{"ready":false,"bootstrap":"a:1","brokers":[{"id":1,"addr":"a:1","pid":5}]}`,
		`{"ready":true,"bootstrap":"","brokers":[]}`,
		`{"ready":true,"bootstrap":"a:1","brokers":[{"id":1,"addr":"a:1","pid":0}]}`,
		`{"ready":true,"bootstrap":"a:1,b:2","brokers":[{"id":1,"addr":"a:1","pid":5}]}`,
	} {
		if _, ok, err := ParseReady(l); !ok || !errors.Is(err, ErrNotReady) {
			t.Errorf("%q: ok %v, err %v; want ErrNotReady", l, ok, err)
		}
	}
}
