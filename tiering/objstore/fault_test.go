package objstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// faultClient is an aws.HTTPClient that answers some requests itself with
// an S3 error (or delays them) instead of sending them to the server.
type faultClient struct {
	next http.Client

	mu       sync.Mutex
	failNext int           // answer this many more requests with status
	status   int           // 500 or 503
	always   bool          // fail every request
	delay    time.Duration // added to every request that gets through
	requests int           // requests seen
	failed   int           // requests answered with a fault
}

func (f *faultClient) Do(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	f.requests++
	fail := f.always || f.failNext > 0
	if fail {
		f.failNext--
		f.failed++
	}
	status, delay := f.status, f.delay
	f.mu.Unlock()
	if fail {
		// Drain the body as a server would, so the SDK can rewind it.
		if req.Body != nil {
			io.Copy(io.Discard, req.Body)
			req.Body.Close()
		}
		code, msg := "InternalError", "We encountered an internal error."
		if status == http.StatusServiceUnavailable {
			code, msg = "SlowDown", "Please reduce your request rate."
		}
		body := `<?xml version="1.0" encoding="UTF-8"?><Error><Code>` + code + `</Code><Message>` + msg + `</Message></Error>`
		return &http.Response{
			StatusCode: status, Status: http.StatusText(status),
			Header:        http.Header{"Content-Type": {"application/xml"}},
			Body:          io.NopCloser(strings.NewReader(body)),
			ContentLength: int64(len(body)), Request: req,
		}, nil
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
	return f.next.Do(req)
}

func (f *faultClient) set(fn func(f *faultClient)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func newFaultyS3(t *testing.T) (*S3, *faultClient) {
	fc := &faultClient{status: http.StatusServiceUnavailable}
	s := newS3(t, S3Options{HTTPClient: fc, BaseBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond, MaxAttempts: 5})
	return s, fc
}

func TestS3RetriesTransientFaults(t *testing.T) {
	ctx := context.Background()
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusInternalServerError} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			s, fc := newFaultyS3(t)
			data := randomBytes(MinPartSize+100, 3) // two parts
			// Every request fails up to 3 times in a row (within 5 attempts).
			fc.set(func(f *faultClient) { f.status = status; f.failNext = 3 })
			if err := s.Put(ctx, "obj", bytes.NewReader(data), int64(len(data))); err != nil {
				t.Fatalf("put with faults: %v", err)
			}
			fc.set(func(f *faultClient) { f.failNext = 3 })
			got, err := ReadRange(ctx, s, "obj", 100, MinPartSize)
			if err != nil {
				t.Fatalf("get with faults: %v", err)
			}
			if !bytes.Equal(got, data[100:100+MinPartSize]) {
				t.Fatal("bytes differ after retried upload and read")
			}
			fc.mu.Lock()
			defer fc.mu.Unlock()
			if fc.failed != 6 {
				t.Fatalf("injected %d faults, want 6", fc.failed)
			}
		})
	}
}

func TestS3SlowResponses(t *testing.T) {
	ctx := context.Background()
	s, fc := newFaultyS3(t)
	fc.set(func(f *faultClient) { f.delay = 50 * time.Millisecond })
	data := randomBytes(4096, 4)
	if err := s.Put(ctx, "slow", bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	got, err := ReadRange(ctx, s, "slow", 0, 4096)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("slow read: %v", err)
	}
	// A deadline shorter than the delay ends the call with the context's
	// error, not a hang.
	dctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := s.Stat(dctx, "slow"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stat past deadline: %v", err)
	}
}

func TestS3PersistentFailure(t *testing.T) {
	ctx := context.Background()
	s, fc := newFaultyS3(t)
	fc.set(func(f *faultClient) { f.always = true; f.status = http.StatusInternalServerError })
	data := randomBytes(MinPartSize+100, 5)
	err := s.Put(ctx, "down", bytes.NewReader(data), int64(len(data)))
	if err == nil {
		t.Fatal("put succeeded against a failing store")
	}
	if !strings.Contains(err.Error(), "put down") || !strings.Contains(err.Error(), "InternalError") {
		t.Fatalf("unclear error: %v", err)
	}
	if errors.Is(err, ErrNotFound) {
		t.Fatalf("server failure reported as not found: %v", err)
	}
	fc.mu.Lock()
	if fc.requests < 5 {
		t.Errorf("only %d requests: no retries", fc.requests)
	}
	fc.mu.Unlock()
	if _, err := s.Get(ctx, "down", 0, 1); err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("get against failing store: %v", err)
	}

	// Store back up: nothing of the failed put is visible.
	fc.set(func(f *faultClient) { f.always = false })
	if _, err := s.Stat(ctx, "down"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("failed put left an object: %v", err)
	}
}
