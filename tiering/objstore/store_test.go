package objstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// stores returns every implementation, each fresh, for contract tests.
func stores(t *testing.T) map[string]Store {
	l, err := OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return map[string]Store{"local": l, "s3": newS3(t, S3Options{Prefix: "pfx/"})}
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestStoreContract(t *testing.T) {
	ctx := context.Background()
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			small := randomBytes(1000, 1)
			// Larger than the part size: multipart on S3, with a short
			// last part.
			large := randomBytes(MinPartSize*2+12345, 2)
			if err := s.Put(ctx, "a/b/small", bytes.NewReader(small), int64(len(small))); err != nil {
				t.Fatal(err)
			}
			if err := s.Put(ctx, "a/b/large", bytes.NewReader(large), int64(len(large))); err != nil {
				t.Fatal(err)
			}
			if err := s.Put(ctx, "a/c", bytes.NewReader(nil), 0); err != nil {
				t.Fatal(err)
			}

			for _, tc := range []struct {
				key       string
				want      []byte
				off, n    int64
				wantBytes []byte
			}{
				{"a/b/small", small, 0, -1, small},
				{"a/b/small", small, 10, 20, small[10:30]},
				{"a/b/small", small, 990, 100, small[990:]},
				{"a/b/large", large, MinPartSize - 5, 10, large[MinPartSize-5 : MinPartSize+5]},
				{"a/b/large", large, 0, -1, large},
			} {
				rc, err := s.Get(ctx, tc.key, tc.off, tc.n)
				if err != nil {
					t.Fatalf("get %s %d+%d: %v", tc.key, tc.off, tc.n, err)
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || !bytes.Equal(got, tc.wantBytes) {
					t.Fatalf("get %s %d+%d: %d bytes, err %v; want %d bytes", tc.key, tc.off, tc.n, len(got), err, len(tc.wantBytes))
				}
			}

			info, err := s.Stat(ctx, "a/b/large")
			if err != nil || info.Size != int64(len(large)) || info.ModTime.IsZero() {
				t.Fatalf("stat: %+v %v", info, err)
			}
			list, err := s.List(ctx, "a/b")
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 2 || list[0].Key != "a/b/large" || list[1].Key != "a/b/small" || list[1].Size != 1000 {
				t.Fatalf("list a/b: %+v", list)
			}
			if all, _ := s.List(ctx, ""); len(all) != 3 {
				t.Fatalf("list all: %+v", all)
			}

			if _, err := s.Get(ctx, "a/missing", 0, 1); !errors.Is(err, ErrNotFound) {
				t.Fatalf("get missing: %v", err)
			}
			if _, err := s.Stat(ctx, "a/missing"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("stat missing: %v", err)
			}
			if _, err := s.Get(ctx, "a/b/small", 5000, 10); !errors.Is(err, ErrInvalidRange) {
				t.Fatalf("get past end: %v", err)
			}
			for _, bad := range []string{"", "/abs", "a//b", "a/../b", "./a"} {
				if err := s.Put(ctx, bad, bytes.NewReader(nil), 0); !errors.Is(err, ErrInvalidKey) {
					t.Fatalf("put %q: %v", bad, err)
				}
			}
			if err := s.Put(ctx, "short", bytes.NewReader(small), 2000); !errors.Is(err, ErrSizeMismatch) {
				t.Fatalf("put short: %v", err)
			}
			if err := s.Put(ctx, "long", bytes.NewReader(large), int64(len(large))-1); !errors.Is(err, ErrSizeMismatch) {
				t.Fatalf("put long: %v", err)
			}
			for _, k := range []string{"short", "long"} {
				if _, err := s.Stat(ctx, k); !errors.Is(err, ErrNotFound) {
					t.Fatalf("failed put left %s: %v", k, err)
				}
			}

			if err := s.Delete(ctx, "a/b/small"); err != nil {
				t.Fatal(err)
			}
			if err := s.Delete(ctx, "a/b/small"); err != nil {
				t.Fatalf("second delete: %v", err)
			}
			if _, err := s.Stat(ctx, "a/b/small"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("stat deleted: %v", err)
			}
		})
	}
}

// TestLocalCrashLeftovers checks that a temp file left by a crashed Put
// is neither listed nor kept by the next Open.
func TestLocalCrashLeftovers(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenLocal(dir); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, tmpDir, "put-123")
	if err := os.WriteFile(stale, []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale temp file kept: %v", err)
	}
	list, err := l.List(context.Background(), "")
	if err != nil || len(list) != 0 {
		t.Fatalf("list: %+v %v", list, err)
	}
	if err := l.Put(context.Background(), ".tmp/x", strings.NewReader("x"), 1); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("put into .tmp: %v", err)
	}
}

func TestLocalPutCancelled(t *testing.T) {
	l, err := OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Put(ctx, "k", strings.NewReader("abc"), 3); !errors.Is(err, context.Canceled) {
		t.Fatalf("put: %v", err)
	}
	if _, err := l.Stat(context.Background(), "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("cancelled put stored the object: %v", err)
	}
}

// TestS3EndpointFromEnvironment: with no endpoint in the config or the
// options, AWS_ENDPOINT_URL (as the SDK's own config loader does) points
// the store at an S3-compatible server.
func TestS3EndpointFromEnvironment(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	t.Setenv("AWS_ENDPOINT_URL", moto.Endpoint)
	cfg := moto.Config.Copy()
	cfg.BaseEndpoint = nil
	s, err := NewS3(cfg, S3Options{Bucket: "objstore-env", UsePathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.CreateBucket(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "k", strings.NewReader("v"), 1); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadRange(ctx, s, "k", 0, 1); err != nil || string(got) != "v" {
		t.Fatalf("read: %q %v", got, err)
	}
}
