package remote_test

import (
	"testing"

	"github.com/kafki/kafki/tiering/remote"
	"github.com/kafki/kafki/tiering/remote/remotetest"
)

// TestFileStoreContract runs the Store contract against FileStore; the
// DynamoDB store runs the same in package metastore.
func TestFileStoreContract(t *testing.T) {
	remotetest.Run(t, func(t *testing.T) func() remote.Store {
		dir := t.TempDir()
		return func() remote.Store {
			s, err := remote.OpenFileStore(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	}, false)
}
