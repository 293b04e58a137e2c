package meta

import (
	"testing"

	"github.com/kafki/kafki/brokerd/acl"
	"github.com/kafki/kafki/brokerd/acl/storetest"
)

func TestEmbeddedACLs(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenEmbedded(dir)
	if err != nil {
		t.Fatal(err)
	}
	storetest.Run(t, s, func() acl.Store {
		r, err := OpenEmbedded(dir)
		if err != nil {
			t.Fatal(err)
		}
		return r
	})
}
