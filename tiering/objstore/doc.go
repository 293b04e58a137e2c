// Package objstore is the object store tiered segments live in: an
// interface (Store) with a local-directory implementation (the embedded
// default) and an S3 implementation (any S3-compatible endpoint).
//
// # Contract
//
//   - Put is all or nothing: once it returns nil the whole object is
//     durably stored under its key; if it fails, the key holds either
//     nothing or its previous complete value, never a part. Large S3
//     objects go up in multipart uploads, aborted on failure.
//   - Get reads a byte range; a range past the end is ErrInvalidRange, a
//     missing key ErrNotFound. Callers test errors with errors.Is.
//   - Delete of a missing key succeeds: deletion is idempotent, so a
//     crashed delete can simply be repeated.
//   - List returns keys with a prefix in lexical order, with sizes and
//     modification times (used to age orphans).
//   - Keys are '/'-separated, relative, without empty, "." or ".."
//     elements (ErrInvalidKey otherwise), so a key can never escape the
//     local store's root.
//   - Every call takes a context; cancelling it abandons the call.
//
// # Local directory
//
// An object is a file under the root. Put writes a temporary file in the
// root's ".tmp" directory, fsyncs it, renames it into place and fsyncs the
// destination directory, so a crash leaves either the old or the new
// object. Temporary files left by a crash are never listed and are
// removed by Open.
//
// # S3
//
// The endpoint is Options.Endpoint, else the aws.Config's BaseEndpoint,
// else AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL from the environment, else
// AWS itself. Throttling (503 SlowDown), 5xx and transport errors are
// retried by the SDK's standard retryer with capped, jittered exponential
// backoff and no client-side retry quota (the quota would turn a burst of
// faults into immediate failures); after MaxAttempts the error is
// returned wrapped with the operation and key.
package objstore
