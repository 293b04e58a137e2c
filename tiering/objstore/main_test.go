package objstore

import (
	"context"
	"os"
	"sync/atomic"
	"testing"

	"github.com/kafki/kafki/tiering/mototest"
)

// moto is the package's one moto_server; it is slow to start.
var moto *mototest.Server

func TestMain(m *testing.M) { os.Exit(mototest.Main(m, &moto)) }

var bucketSeq atomic.Int64

// newS3 returns a store on a fresh bucket of the shared moto server.
func newS3(tb testing.TB, opts S3Options) *S3 {
	tb.Helper()
	if opts.Bucket == "" {
		opts.Bucket = "objstore-test-" + itoa(bucketSeq.Add(1))
	}
	opts.UsePathStyle = true
	if opts.PartSize == 0 {
		opts.PartSize = MinPartSize
	}
	s, err := NewS3(moto.Config, opts)
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.CreateBucket(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return s
}

func itoa(n int64) string {
	const digits = "0123456789"
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{digits[n%10]}, b...)
	}
	return string(b)
}
