package perf

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFormatCount(t *testing.T) {
	cases := map[int64]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 123456: "123,456",
		1234567: "1,234,567", -1234: "-1,234", -100: "-100"}
	for n, want := range cases {
		if got := FormatCount(n); got != want {
			t.Errorf("FormatCount(%d) = %q, want %q", n, got, want)
		}
	}
}

func sampleReport() *Report {
	return &Report{
		Broker: "127.0.0.1:9092",
		Cells: []CellResult{
			{
				RecordSize: 100, Acks: "1",
				Produce: ProduceStats{RecordsPerSec: 612345.4, MBPerSec: 61.2345,
					Latency: LatencyMicros{P50: 4210, P99: 12500, P999: 20000, Max: 31000}},
				Consume:            ConsumeStats{RecordsPerSec: 1_000_000, MBPerSec: 100},
				BrokerPeakRSSBytes: 150e6, BrokerCPUCores: 0.93, PerfCPUCores: 0.8,
			},
			{
				RecordSize: 1024, Acks: "all",
				Produce:            ProduceStats{RecordsPerSec: 150000, MBPerSec: 153.6},
				Consume:            ConsumeStats{RecordsPerSec: 100000, MBPerSec: 102.4},
				BrokerPeakRSSBytes: 0, BrokerCPUCores: -1, PerfCPUCores: 0.5,
				Error: "read-back mismatch: read back 9 records, 10 were acknowledged",
			},
		},
		BrokerPeakRSSBytes: 320e6,
		BrokerHWMBytes:     330e6,
	}
}

func TestWriteTable(t *testing.T) {
	var out bytes.Buffer
	if err := WriteTable(&out, sampleReport()); err != nil {
		t.Fatalf("WriteTable: %v", err)
	}
	text := out.String()
	lines := strings.Split(text, "\n")
	header := strings.Fields(lines[0])
	if strings.Join(header[:4], " ") != "size acks produce rec/s" {
		t.Fatalf("header = %q", lines[0])
	}
	row1 := strings.Fields(lines[1])
	want1 := []string{"100", "B", "1", "612,345", "61.2", "4.21", "12.50", "20.00", "1,000,000", "100.0", "150", "0.93/0.80", "ok"}
	if strings.Join(row1, " ") != strings.Join(want1, " ") {
		t.Fatalf("row 1 = %q\nwant      %q", row1, want1)
	}
	// Unknown broker figures print as "-", and a failed cell says why.
	row2 := lines[2]
	for _, want := range []string{"1024 B", " all ", " - ", "-/0.50", "FAILED: read-back mismatch"} {
		if !strings.Contains(row2, want) {
			t.Errorf("row 2 %q lacks %q", row2, want)
		}
	}
	// Columns are aligned: every row's "acks" column ends where the header's does.
	if strings.Index(lines[0], "acks")+len("acks") != strings.Index(lines[1], " 1 ")+2 {
		t.Errorf("acks column not right-aligned:\n%s\n%s", lines[0], lines[1])
	}
	for _, want := range []string{"peak RSS 320 MB", "VmHWM 330 MB", "targets:"} {
		if !strings.Contains(text, want) {
			t.Errorf("table lacks %q:\n%s", want, text)
		}
	}
}

func TestCheckTargets(t *testing.T) {
	checks := CheckTargets(sampleReport())
	type key struct{ cell, want string }
	met := map[key]bool{}
	for _, c := range checks {
		met[key{c.Cell, c.Want}] = c.Met
	}
	want := map[key]bool{
		{"100 B acks=1", "produce >= 500,000 rec/s"}:     true,
		{"100 B acks=1", "consume rate >= produce rate"}: true,
		// 153.6 MB/s misses 200 MB/s; the cell also failed.
		{"1024 B acks=all", "produce >= 200 MB/s"}:          false,
		{"1024 B acks=all", "consume rate >= produce rate"}: false,
		{"broker", "peak RSS < 300 MB"}:                     false, // 320 MB
	}
	if len(met) != len(want) {
		t.Fatalf("checks = %+v", checks)
	}
	for k, w := range want {
		if got, ok := met[k]; !ok || got != w {
			t.Errorf("%v: met = %v (present %v), want %v", k, got, ok, w)
		}
	}
}

func TestCheckTargetsFailedCellMissesEvenWhenFast(t *testing.T) {
	r := &Report{Cells: []CellResult{{RecordSize: 100, Acks: "1", Error: "boom",
		Produce: ProduceStats{RecordsPerSec: 1e6}, Consume: ConsumeStats{RecordsPerSec: 2e6}}}}
	for _, c := range CheckTargets(r) {
		if c.Met {
			t.Errorf("%s %s met on a failed cell", c.Cell, c.Want)
		}
	}
}

func TestWriteJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.json")
	if err := WriteJSON(path, sampleReport()); err != nil {
		t.Fatalf("WriteJSON: %v", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if len(back.Cells) != 2 || back.Cells[0].Produce.Latency.P99 != 12500 || back.Cells[1].Error == "" {
		t.Fatalf("round trip lost data: %+v", back)
	}
	if !strings.Contains(string(data), `"records_per_sec"`) || !strings.Contains(string(data), `"p99_9"`) {
		t.Fatalf("unexpected field names:\n%s", data)
	}
}
