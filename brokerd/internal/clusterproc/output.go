package clusterproc

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// tailBuffer keeps the last max bytes written to it. os/exec writes from
// its copying goroutine while tests read Logs.
type tailBuffer struct {
	mu      sync.Mutex
	max     int
	buf     []byte
	dropped bool
}

func newTailBuffer(max int) *tailBuffer { return &tailBuffer{max: max} }

func (t *tailBuffer) Write(p []byte) (int, error) {
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
func (t *tailBuffer) String() string {
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
func (t *tailBuffer) Reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf, t.dropped = t.buf[:0], false
}

// LastLine returns the last non-empty line the broker wrote (harness
// notes skipped), trimmed: the one most likely to say why it stopped.
func (t *tailBuffer) LastLine() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := strings.Split(string(t.buf), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l != "" && !strings.HasPrefix(l, notePrefix) {
			return l
		}
	}
	return ""
}

// notePrefix starts every line the harness itself writes to a broker's
// output.
const notePrefix = "=== clusterproc:"

// lockedWriter serialises writes of several brokers to one io.Writer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// prefixWriter writes whole lines, each prefixed, to w; a partial line
// waits for its end. The broker's output and the harness's notes about it
// may arrive from different goroutines.
type prefixWriter struct {
	mu      sync.Mutex
	w       io.Writer
	prefix  string
	partial []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.partial = append(p.partial, b...)
	var out bytes.Buffer
	for {
		i := bytes.IndexByte(p.partial, '\n')
		if i < 0 {
			break
		}
		out.WriteString(p.prefix)
		out.Write(p.partial[:i+1])
		p.partial = p.partial[i+1:]
	}
	// Keep the pending partial line in a buffer of its own, so the
	// backing array does not grow without bound.
	p.partial = append([]byte(nil), p.partial...)
	if out.Len() > 0 {
		// One Write per batch of lines, so lines of different brokers
		// never interleave within a line.
		if _, err := p.w.Write(out.Bytes()); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}
