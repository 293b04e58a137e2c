package brokerproc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrNoProcInfo means a /proc file lacked the field asked for, or the
// process is gone.
var ErrNoProcInfo = errors.New("process information unavailable")

// ProcMemory is the memory of a process as /proc/PID/status reports it.
type ProcMemory struct {
	RSS int64 // VmRSS: resident set size now, in bytes
	HWM int64 // VmHWM: peak resident set size so far, in bytes
}

// ParseProcStatus reads VmRSS and VmHWM from the text of /proc/PID/status.
// It fails with ErrNoProcInfo when VmRSS is missing (a kernel thread, or a
// zombie that already released its memory). VmHWM is optional.
func ParseProcStatus(r io.Reader) (ProcMemory, error) {
	var m ProcMemory
	foundRSS := false
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		var dst *int64
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			dst, foundRSS = &m.RSS, true
		case strings.HasPrefix(line, "VmHWM:"):
			dst = &m.HWM
		default:
			continue
		}
		v, err := parseKB(line[strings.IndexByte(line, ':')+1:])
		if err != nil {
			return ProcMemory{}, fmt.Errorf("parse %q: %w", line, err)
		}
		*dst = v
	}
	if err := sc.Err(); err != nil {
		return ProcMemory{}, fmt.Errorf("read status: %w", err)
	}
	if !foundRSS {
		return ProcMemory{}, fmt.Errorf("no VmRSS line: %w", ErrNoProcInfo)
	}
	return m, nil
}

// parseKB parses "   123456 kB" into bytes.
func parseKB(s string) (int64, error) {
	fields := strings.Fields(s)
	if len(fields) != 2 || fields[1] != "kB" {
		return 0, errors.New("want \"<number> kB\"")
	}
	n, err := strconv.ParseInt(fields[0], 10, 64)
	if err != nil || n < 0 || n > 1<<50 {
		return 0, fmt.Errorf("bad number %q", fields[0])
	}
	return n * 1024, nil
}

// ReadProcMemory reads /proc/PID/status.
func ReadProcMemory(pid int) (ProcMemory, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return ProcMemory{}, fmt.Errorf("pid %d: %w: %w", pid, ErrNoProcInfo, err)
	}
	return ParseProcStatus(bytes.NewReader(data))
}

// clockTicksPerSecond is USER_HZ, the unit of utime/stime in /proc/PID/stat.
// It is 100 on every Linux architecture Go supports (it is part of the
// kernel ABI, independent of CONFIG_HZ), and reading sysconf needs cgo.
const clockTicksPerSecond = 100

// ParseProcStat returns the CPU time (user + system) a process has used,
// from the text of /proc/PID/stat.
func ParseProcStat(text string) (time.Duration, error) {
	// The command name (field 2) is in parentheses and may itself contain
	// spaces and parentheses; the fields after the last ')' are fixed.
	end := strings.LastIndexByte(text, ')')
	if end < 0 {
		return 0, fmt.Errorf("no command name: %w", ErrNoProcInfo)
	}
	fields := strings.Fields(text[end+1:])
	// After the name: state(3) ppid(4) ... utime(14) stime(15), so utime is
	// index 11 of what follows the name.
	const utimeIdx, stimeIdx = 11, 12
	if len(fields) <= stimeIdx {
		return 0, fmt.Errorf("%d fields after the name: %w", len(fields), ErrNoProcInfo)
	}
	var ticks int64
	for _, i := range []int{utimeIdx, stimeIdx} {
		n, err := strconv.ParseInt(fields[i], 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("field %d %q: %w", i+3, fields[i], ErrNoProcInfo)
		}
		ticks += n
	}
	return time.Duration(ticks) * (time.Second / clockTicksPerSecond), nil
}

// ReadProcCPU reads the CPU time used by pid (0 means this process).
func ReadProcCPU(pid int) (time.Duration, error) {
	name := "/proc/self/stat"
	if pid != 0 {
		name = "/proc/" + strconv.Itoa(pid) + "/stat"
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return 0, fmt.Errorf("%s: %w: %w", name, ErrNoProcInfo, err)
	}
	return ParseProcStat(string(data))
}

// RSSSampler polls a process's VmRSS and keeps the peak, overall and per
// window (a window is what ResetWindow starts, e.g. one cell).
type RSSSampler struct {
	pid      int
	interval time.Duration
	stop     chan struct{}
	done     chan struct{}

	mu         sync.Mutex
	peak       int64 // over the sampler's life
	windowPeak int64 // since the last ResetWindow
	lastErr    error
}

// StartRSSSampler samples pid every interval until Stop.
func StartRSSSampler(pid int, interval time.Duration) *RSSSampler {
	s := &RSSSampler{pid: pid, interval: interval, stop: make(chan struct{}), done: make(chan struct{})}
	s.sample()
	go s.loop()
	return s
}

func (s *RSSSampler) loop() {
	defer close(s.done)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.sample()
		}
	}
}

func (s *RSSSampler) sample() {
	m, err := ReadProcMemory(s.pid)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.lastErr = err
		return
	}
	s.peak = max(s.peak, m.RSS)
	s.windowPeak = max(s.windowPeak, m.RSS)
}

// ResetWindow starts a new window; WindowPeak then covers only samples
// taken from now on (the current RSS is sampled at once).
func (s *RSSSampler) ResetWindow() {
	s.mu.Lock()
	s.windowPeak = 0
	s.mu.Unlock()
	s.sample()
}

// WindowPeak returns the peak RSS in bytes since ResetWindow, sampling once
// more first so that a short window has at least two samples.
func (s *RSSSampler) WindowPeak() int64 {
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.windowPeak
}

// Peak returns the peak RSS in bytes seen since the sampler started.
func (s *RSSSampler) Peak() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}

// Stop ends the sampling goroutine and waits for it.
func (s *RSSSampler) Stop() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}
