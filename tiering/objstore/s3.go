package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// S3 limits and defaults.
const (
	// MinPartSize is S3's smallest allowed part (except the last).
	MinPartSize = 5 << 20
	// DefaultPartSize is the multipart part size when Options leave it 0.
	DefaultPartSize = 16 << 20
	// DefaultMaxAttempts bounds tries per request (first try included).
	DefaultMaxAttempts = 8
	// DefaultBaseBackoff and DefaultMaxBackoff shape the retry delays:
	// attempt n waits a random duration in [0, min(max, base*2^n)).
	DefaultBaseBackoff = 50 * time.Millisecond
	DefaultMaxBackoff  = 5 * time.Second
)

// S3Options configure an S3 store.
type S3Options struct {
	// Bucket holds the objects; it must exist (see CreateBucket).
	Bucket string
	// Prefix is prepended to every key ("tier/" stores key k at
	// "tier/k"); keys returned by List have it removed.
	Prefix string
	// Endpoint overrides the endpoint (see the package doc for the
	// fallbacks).
	Endpoint string
	// UsePathStyle addresses buckets as http://host/bucket/key instead of
	// http://bucket.host/key, as most S3-compatible servers need.
	UsePathStyle bool
	// PartSize is the multipart part size; objects larger than it are
	// uploaded in parts. 0 means DefaultPartSize; below MinPartSize is
	// raised to it.
	PartSize int64
	// MaxAttempts, BaseBackoff, MaxBackoff tune retries (0: defaults).
	MaxAttempts int
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// HTTPClient replaces the config's HTTP client (tests inject faults
	// through it).
	HTTPClient aws.HTTPClient
}

// S3 is a Store in an S3 bucket.
type S3 struct {
	client   *s3.Client
	bucket   string
	prefix   string
	partSize int64
}

var _ Store = (*S3)(nil)

// NewS3 returns a store using cfg (region, credentials) and opts.
func NewS3(cfg aws.Config, opts S3Options) (*S3, error) {
	if opts.Bucket == "" {
		return nil, errors.New("objstore: S3 bucket not set")
	}
	if opts.PartSize == 0 {
		opts.PartSize = DefaultPartSize
	}
	opts.PartSize = max(opts.PartSize, MinPartSize)
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.BaseBackoff <= 0 {
		opts.BaseBackoff = DefaultBaseBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	endpoint := opts.Endpoint
	if endpoint == "" && cfg.BaseEndpoint == nil {
		endpoint = firstEnv("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
	}
	backoff := jitterBackoff{base: opts.BaseBackoff, max: opts.MaxBackoff}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.UsePathStyle = opts.UsePathStyle
		if opts.HTTPClient != nil {
			o.HTTPClient = opts.HTTPClient
		}
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = opts.MaxAttempts
			so.MaxBackoff = opts.MaxBackoff
			so.Backoff = backoff
			so.RateLimiter = ratelimit.None
		})
		// Checksums only where S3 requires them: S3-compatible servers
		// differ in their support of the newer default trailers, and
		// segment integrity is checked by the tier's own CRC32C.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return &S3{client: client, bucket: opts.Bucket, prefix: opts.Prefix, partSize: opts.PartSize}, nil
}

// CreateBucket creates the store's bucket if it does not exist yet.
func (s *S3) CreateBucket(ctx context.Context) error {
	_, err := s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(s.bucket)})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return fmt.Errorf("objstore: create bucket %s: %w", s.bucket, err)
	}
	return nil
}

func (s *S3) key(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	return s.prefix + key, nil
}

// Put implements Store; objects above the part size use multipart upload.
// Parts are buffered in memory so each request body is seekable and can
// be retried.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	k, err := s.key(key)
	if err != nil {
		return err
	}
	if size > s.partSize {
		return s.putMultipart(ctx, key, k, r, size)
	}
	buf, err := readExactly(r, size)
	if err != nil {
		return fmt.Errorf("objstore: put %s: %w", key, err)
	}
	_, err = s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(k),
		Body:          bytes.NewReader(buf),
		ContentLength: aws.Int64(size),
	})
	if err != nil {
		return fmt.Errorf("objstore: put %s: %w", key, err)
	}
	return nil
}

func (s *S3) putMultipart(ctx context.Context, key, k string, r io.Reader, size int64) (err error) {
	created, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(s.bucket), Key: aws.String(k),
	})
	if err != nil {
		return fmt.Errorf("objstore: put %s: start multipart: %w", key, err)
	}
	defer func() {
		if err == nil {
			return
		}
		// Abort even if ctx ended, so the parts stop costing storage; the
		// bucket's lifecycle rule is the backstop if this fails too.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, _ = s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
			Bucket: aws.String(s.bucket), Key: aws.String(k), UploadId: created.UploadId,
		})
	}()
	var parts []types.CompletedPart
	buf := make([]byte, s.partSize)
	for off, n := int64(0), int32(1); off < size; n++ {
		chunk := min(s.partSize, size-off)
		if _, err := io.ReadFull(r, buf[:chunk]); err != nil {
			return fmt.Errorf("%w: put %s: part %d: %v", ErrSizeMismatch, key, n, err)
		}
		out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: aws.String(s.bucket), Key: aws.String(k), UploadId: created.UploadId,
			PartNumber: aws.Int32(n), Body: bytes.NewReader(buf[:chunk]), ContentLength: aws.Int64(chunk),
		})
		if err != nil {
			return fmt.Errorf("objstore: put %s: part %d: %w", key, n, err)
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(n)})
		off += chunk
	}
	if extra, _ := io.ReadFull(r, buf[:1]); extra > 0 {
		return fmt.Errorf("%w: put %s: more than %d bytes", ErrSizeMismatch, key, size)
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(s.bucket), Key: aws.String(k), UploadId: created.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return fmt.Errorf("objstore: put %s: complete multipart: %w", key, err)
	}
	return nil
}

// Get implements Store with a ranged GET.
func (s *S3) Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	k, err := s.key(key)
	if err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, fmt.Errorf("%w: get %s at %d", ErrInvalidRange, key, off)
	}
	if length == 0 {
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	in := &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(k)}
	switch {
	case length > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", off, off+length-1))
	case off > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", off))
	}
	// No Range for a whole object: S3 answers "bytes=0-" on an empty
	// object with 416 InvalidRange (empty indexes of small segments).
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		return nil, s.wrap("get", key, err)
	}
	return out.Body, nil
}

// Stat implements Store with HEAD.
func (s *S3) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	k, err := s.key(key)
	if err != nil {
		return ObjectInfo{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(k)})
	if err != nil {
		return ObjectInfo{}, s.wrap("stat", key, err)
	}
	return ObjectInfo{Key: key, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
}

// Delete implements Store (S3 deletes are already idempotent).
func (s *S3) Delete(ctx context.Context, key string) error {
	k, err := s.key(key)
	if err != nil {
		return err
	}
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(k)}); err != nil {
		return s.wrap("delete", key, err)
	}
	return nil
}

// List implements Store, following continuation tokens.
func (s *S3) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	var out []ObjectInfo
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket), Prefix: aws.String(s.prefix + prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, s.wrap("list", prefix, err)
		}
		for _, o := range page.Contents {
			out = append(out, ObjectInfo{
				Key:     strings.TrimPrefix(aws.ToString(o.Key), s.prefix),
				Size:    aws.ToInt64(o.Size),
				ModTime: aws.ToTime(o.LastModified),
			})
		}
	}
	return out, nil
}

// wrap maps S3's not-found and invalid-range answers to the sentinels.
func (s *S3) wrap(op, key string, err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return fmt.Errorf("%w: %s %s: %v", ErrNotFound, op, key, err)
		case "InvalidRange":
			return fmt.Errorf("%w: %s %s: %v", ErrInvalidRange, op, key, err)
		}
	}
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) {
		switch respErr.HTTPStatusCode() {
		case http.StatusNotFound:
			return fmt.Errorf("%w: %s %s: %v", ErrNotFound, op, key, err)
		case http.StatusRequestedRangeNotSatisfiable:
			return fmt.Errorf("%w: %s %s: %v", ErrInvalidRange, op, key, err)
		}
	}
	return fmt.Errorf("objstore: %s %s: %w", op, key, err)
}

// readExactly reads size bytes and checks that r has no more.
func readExactly(r io.Reader, size int64) ([]byte, error) {
	buf := make([]byte, size+1)
	n, err := io.ReadFull(r, buf)
	switch {
	case int64(n) == size && (err == io.ErrUnexpectedEOF || err == io.EOF):
		return buf[:size], nil
	case err == nil:
		return nil, fmt.Errorf("%w: more than %d bytes", ErrSizeMismatch, size)
	case err == io.ErrUnexpectedEOF || err == io.EOF:
		return nil, fmt.Errorf("%w: read %d bytes, want %d", ErrSizeMismatch, n, size)
	default:
		return nil, err
	}
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// jitterBackoff is "full jitter" exponential backoff with a configurable
// base, which the SDK's own delayer lacks (its base is one second, too
// slow for tests and for small reads).
type jitterBackoff struct {
	base, max time.Duration
}

func (b jitterBackoff) BackoffDelay(attempt int, _ error) (time.Duration, error) {
	ceil := b.max
	if attempt < 30 {
		ceil = min(b.max, b.base<<attempt)
	}
	if ceil <= 0 {
		return 0, nil
	}
	return rand.N(ceil), nil
}
