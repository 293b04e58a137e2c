package e2e

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
)

// s3Proxy sits between the brokers and the emulator's S3. Off, it only
// forwards; on, it answers a fraction of the requests the way S3 does
// under load (503 SlowDown or 500 InternalError with S3's XML error
// body), so the tiering path meets errors from a real HTTP exchange.
type s3Proxy struct {
	URL      string
	rate     atomic.Uint64 // faulted fraction × 1e6
	injected atomic.Int64
	forward  atomic.Int64
}

func startS3Proxy(t *testing.T, target string) *s3Proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &s3Proxy{URL: "http://" + ln.Addr().String()}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rate := p.rate.Load(); rate > 0 && rand.Uint64N(1e6) < rate {
			n := p.injected.Add(1)
			status, code := http.StatusServiceUnavailable, "SlowDown"
			if n%2 == 0 {
				status, code = http.StatusInternalServerError, "InternalError"
			}
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(status)
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>injected by the e2e fault proxy</Message><RequestId>fault-%d</RequestId></Error>`, code, n)
			return
		}
		p.forward.Add(1)
		rp.ServeHTTP(w, r)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return p
}

// set makes the proxy fail fraction of the requests (0 turns faults off).
func (p *s3Proxy) set(fraction float64) { p.rate.Store(uint64(fraction * 1e6)) }
