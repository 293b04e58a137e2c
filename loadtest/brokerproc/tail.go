package brokerproc

import (
	"strings"
	"sync"
)

// TailBuffer is an io.Writer that keeps the last max bytes written to it:
// a child process's output, kept for error messages and failed tests'
// logs. os/exec writes from its copying goroutine while others read.
type TailBuffer struct {
	mu      sync.Mutex
	max     int
	skip    string // LastLine skips lines starting with this ("" skips none)
	buf     []byte
	dropped bool
}

// NewTailBuffer keeps the last max bytes. LastLine skips lines that start
// with notePrefix (a harness's own lines in the output; "" for none).
func NewTailBuffer(max int, notePrefix string) *TailBuffer {
	return &TailBuffer{max: max, skip: notePrefix}
}

func (t *TailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.dropped = true
	}
	return len(p), nil
}

// String returns the kept output; a cut first line is dropped and marked.
func (t *TailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := string(t.buf)
	if t.dropped {
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		}
		s = "[... earlier output dropped]\n" + s
	}
	return s
}

// Reset forgets everything written so far.
func (t *TailBuffer) Reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf, t.dropped = t.buf[:0], false
}

// LastLine returns the last non-empty line written (notes skipped),
// trimmed: the one most likely to say why a process stopped.
func (t *TailBuffer) LastLine() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := strings.Split(string(t.buf), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l != "" && (t.skip == "" || !strings.HasPrefix(l, t.skip)) {
			return l
		}
	}
	return ""
}
