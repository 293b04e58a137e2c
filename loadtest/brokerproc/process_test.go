package brokerproc

import (
	"fmt"
	"net"
	"strings"
	"testing"
)

// notePrefix stands for a harness's own lines in a broker's output.
const notePrefix = "=== clusterproc:"

func TestFreeLoopbackAddrsAreDistinctAndBindable(t *testing.T) {
	addrs, err := FreeLoopbackAddrs(8)
	if err != nil {
		t.Fatal(err)
	}
	if len(addrs) != 8 {
		t.Fatalf("got %d addresses, want 8", len(addrs))
	}
	seen := map[string]bool{}
	for _, a := range addrs {
		host, _, err := net.SplitHostPort(a)
		if err != nil || host != "127.0.0.1" {
			t.Errorf("address %q is not on 127.0.0.1 (%v)", a, err)
		}
		if seen[a] {
			t.Errorf("address %s handed out twice", a)
		}
		seen[a] = true
		l, err := net.Listen("tcp", a)
		if err != nil {
			t.Errorf("address %s is not free after return: %v", a, err)
			continue
		}
		l.Close()
	}
}

func TestTailBufferKeepsTheEnd(t *testing.T) {
	b := NewTailBuffer(16, notePrefix)
	fmt.Fprintf(b, "first line\nsecond line\nlast\n%s broker 1 killed\n", notePrefix)
	s := b.String()
	if strings.Contains(s, "first") || !strings.HasPrefix(s, "[... earlier output dropped]\n") {
		t.Errorf("String() = %q, want the head dropped and marked", s)
	}
	b = NewTailBuffer(1<<10, notePrefix)
	fmt.Fprintf(b, "starting\nfatal: no table\n%s broker 1 killed\n", notePrefix)
	if got := b.LastLine(); got != "fatal: no table" {
		t.Errorf("LastLine() = %q, want the broker's last line, not the harness note", got)
	}
}
