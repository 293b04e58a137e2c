package mototest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestStartServesS3 checks that the returned config reaches the server:
// a bucket is created, an object written and read back, and after Close
// the endpoint no longer answers.
func TestStartServesS3(t *testing.T) {
	srv := StartT(t)
	ctx := context.Background()
	c := s3.NewFromConfig(srv.Config, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("mototest-bucket")}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("mototest-bucket"), Key: aws.String("k"), Body: bytes.NewReader([]byte("hello"))}); err != nil {
		t.Fatalf("put: %v", err)
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("mototest-bucket"), Key: aws.String("k")})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	got, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(got) != "hello" {
		t.Fatalf("got %q", got)
	}

	if err := srv.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("mototest-bucket")}); err == nil {
		t.Fatal("bucket survived Reset")
	}

	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.Get(srv.Endpoint + "/moto-api/"); err == nil {
		resp.Body.Close()
		t.Fatal("server still answers after Close")
	}
}

func TestMissingBinary(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := Start(context.Background())
	if !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("err = %v, want ErrNotInstalled", err)
	}
	if !bytes.Contains([]byte(err.Error()), []byte("pip install 'moto[server]'")) {
		t.Fatalf("message does not say how to install: %v", err)
	}
}
