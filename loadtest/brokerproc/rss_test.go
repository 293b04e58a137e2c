package brokerproc

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// A /proc/PID/status as a 6.x kernel prints it (abridged).
const sampleStatus = `Name:	brokerd
Umask:	0022
State:	S (sleeping)
Tgid:	4242
Pid:	4242
VmPeak:	 1803332 kB
VmSize:	 1737796 kB
VmLck:	       0 kB
VmHWM:	  215368 kB
VmRSS:	  187204 kB
RssAnon:	  120000 kB
Threads:	9
`

func TestParseProcStatus(t *testing.T) {
	m, err := ParseProcStatus(strings.NewReader(sampleStatus))
	if err != nil {
		t.Fatalf("ParseProcStatus: %v", err)
	}
	if m.RSS != 187204*1024 || m.HWM != 215368*1024 {
		t.Fatalf("got %+v, want RSS %d HWM %d", m, 187204*1024, 215368*1024)
	}
}

func TestParseProcStatusErrors(t *testing.T) {
	// A zombie or kernel thread has no VmRSS line.
	_, err := ParseProcStatus(strings.NewReader("Name:\tkworker\nState:\tZ (zombie)\n"))
	if !errors.Is(err, ErrNoProcInfo) {
		t.Errorf("no VmRSS: err = %v, want ErrNoProcInfo", err)
	}
	for _, bad := range []string{"VmRSS:\t12 MB\n", "VmRSS:\tlots kB\n", "VmRSS:\n", "VmRSS:\t-5 kB\n"} {
		if _, err := ParseProcStatus(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestParseProcStat(t *testing.T) {
	// The command name may contain spaces and parentheses; utime=250 and
	// stime=50 ticks are fields 14 and 15.
	line := "4242 (my (odd) cmd) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 9 0 123 456 789\n"
	d, err := ParseProcStat(line)
	if err != nil {
		t.Fatalf("ParseProcStat: %v", err)
	}
	if d != 3*time.Second {
		t.Fatalf("cpu = %s, want 3s", d)
	}
	for _, bad := range []string{"", "4242 (x) S 1 2", "4242 (x) S 1 2 3 4 5 6 7 8 9 10 x 50"} {
		if _, err := ParseProcStat(bad); !errors.Is(err, ErrNoProcInfo) {
			t.Errorf("%q: err = %v, want ErrNoProcInfo", bad, err)
		}
	}
}

func TestReadOwnProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc on this system")
	}
	m, err := ReadProcMemory(os.Getpid())
	if err != nil || m.RSS <= 0 || m.HWM < m.RSS {
		t.Fatalf("ReadProcMemory(self) = %+v, %v", m, err)
	}
	if _, err := ReadProcCPU(0); err != nil {
		t.Fatalf("ReadProcCPU(self): %v", err)
	}
	if _, err := ReadProcMemory(1 << 30); !errors.Is(err, ErrNoProcInfo) {
		t.Fatalf("absent pid: err = %v, want ErrNoProcInfo", err)
	}
}

func TestRSSSamplerTracksPeaks(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc on this system")
	}
	s := StartRSSSampler(os.Getpid(), time.Millisecond)
	defer s.Stop()
	// Sampling starts at once, so the peak is known without waiting.
	if s.Peak() <= 0 {
		t.Fatalf("Peak() = %d after start", s.Peak())
	}
	s.ResetWindow()
	if w := s.WindowPeak(); w <= 0 || w > s.Peak() {
		t.Fatalf("WindowPeak() = %d, Peak() = %d", w, s.Peak())
	}
	s.Stop()
	s.Stop() // idempotent
}
