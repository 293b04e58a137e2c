package meta

import (
	"testing"

	"github.com/kafki/kafki/lambdas/triggers"
	"github.com/kafki/kafki/lambdas/triggers/storetest"
)

func TestEmbeddedTriggers(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenEmbedded(dir)
	if err != nil {
		t.Fatal(err)
	}
	storetest.Run(t, s, func() triggers.Store {
		r, err := OpenEmbedded(dir)
		if err != nil {
			t.Fatal(err)
		}
		return r
	})
}
