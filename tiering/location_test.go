package tiering

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kafki/kafki/tiering/objstore"
)

func TestCheckPrefix(t *testing.T) {
	for prefix, ok := range map[string]bool{
		"": true, "kafki": true, "kafki/prod": true, "kafki/prod/": true,
		"/kafki": false, "kafki//prod": false, "./kafki": false, "kafki/../x": false, "/": false,
		strings.Repeat("a", 513): false,
	} {
		if err := CheckPrefix(prefix); (err == nil) != ok {
			t.Errorf("CheckPrefix(%.20q) = %v, want ok=%v", prefix, err, ok)
		}
	}
}

// Open with tier.s3.prefix stores every object under the prefix, a
// trailing "/" added, and lists only what is under it: two clusters can
// share a bucket without seeing (or sweeping) each other's objects.
func TestOpenS3Prefix(t *testing.T) {
	moto.Env(t)
	bucket := fmt.Sprintf("tiering-%d", bucketSeq.Add(1))
	raw, err := objstore.NewS3(moto.Config, objstore.S3Options{Bucket: bucket, UsePathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.CreateBucket(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := raw.Put(t.Context(), "other/x", strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
	store, _, err := Open(t.Context(), Location{S3Bucket: bucket, S3PathStyle: true, S3Prefix: "kafki/prod", MetadataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Put(t.Context(), "a/b", strings.NewReader("ab"), 2); err != nil {
		t.Fatal(err)
	}
	all, err := raw.List(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].Key != "kafki/prod/a/b" || all[1].Key != "other/x" {
		t.Fatalf("bucket holds %+v, want kafki/prod/a/b and other/x", all)
	}
	mine, err := store.List(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(mine) != 1 || mine[0].Key != "a/b" {
		t.Fatalf("the prefixed store lists %+v, want only a/b", mine)
	}
	if _, _, err := Open(t.Context(), Location{S3Bucket: bucket, S3Prefix: "/abs", MetadataDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "tier.s3.prefix") {
		t.Fatalf("Open with prefix /abs: %v, want a tier.s3.prefix error", err)
	}
}
