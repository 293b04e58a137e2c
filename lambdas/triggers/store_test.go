package triggers_test

import (
	"net/http/httptest"
	"testing"

	"github.com/kafki/kafki/lambdas/triggers"
	"github.com/kafki/kafki/lambdas/triggers/storetest"
)

func TestMemStore(t *testing.T) { storetest.Run(t, triggers.NewMemStore(), nil) }

// The admin endpoint and its client keep the store's contract, errors
// included.
func TestAdminClient(t *testing.T) {
	srv := httptest.NewServer(&triggers.Admin{Store: triggers.NewMemStore()})
	defer srv.Close()
	storetest.Run(t, &triggers.Client{Base: srv.URL}, nil)
}
