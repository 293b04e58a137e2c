package mototest

import (
	"bytes"
	"io"
	"net/http"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// SerialConfig returns a copy of s.Config whose requests go to moto one at
// a time, whichever goroutine sends them.
//
// Why: moto_server is a threaded server without locking, so two
// concurrent conditional writes to one DynamoDB item can both pass their
// condition — an emulator gap; real DynamoDB evaluates a condition and
// applies its write atomically. Tests that race conditional writes from
// many goroutines (lease contenders, optimistic updates, atomic counters)
// use this config so that they test our conditions, not moto's thread
// safety. The goroutines still race: which request goes first is up to
// the scheduler.
func (s *Server) SerialConfig() aws.Config {
	cfg := s.Config.Copy()
	cfg.HTTPClient = &serialClient{c: &http.Client{}}
	return cfg
}

type serialClient struct {
	mu sync.Mutex
	c  *http.Client
}

func (s *serialClient) Do(req *http.Request) (*http.Response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	resp, err := s.c.Do(req)
	if err != nil {
		return resp, err
	}
	// Read the body under the lock too, so the next request starts only
	// after this one is complete on the server.
	body, rerr := readAll(resp)
	if rerr != nil {
		return nil, rerr
	}
	resp.Body = body
	return resp, nil
}

func readAll(resp *http.Response) (io.ReadCloser, error) {
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}
