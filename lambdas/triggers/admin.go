package triggers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// AdminPath is where a broker serves trigger admin on its HTTP
// (metrics) listener.
const AdminPath = "/v1/triggers"

// FunctionChecker looks functions up (*lambda.Client).
type FunctionChecker interface {
	GetFunction(ctx context.Context, in *lambda.GetFunctionInput, opts ...func(*lambda.Options)) (*lambda.GetFunctionOutput, error)
}

// Admin serves a Store over HTTP (the broker mounts it at AdminPath) and
// validates definitions on the way in: a malformed one, or one naming a
// function the Lambda endpoint says does not exist, is refused with a
// one-line error. Client is its other end.
type Admin struct {
	Store     Store
	Functions FunctionChecker // nil: functions are not checked
}

type wireTrigger struct {
	ID         string          `json:"id"`
	Definition json.RawMessage `json:"definition"`
	Status     json.RawMessage `json:"status,omitempty"`
	Version    int64           `json:"version"`
}

type wireError struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// ServeHTTP implements http.Handler.
func (a *Admin) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	ctx := req.Context()
	rest := strings.Trim(strings.TrimPrefix(req.URL.Path, AdminPath), "/")
	parts := strings.Split(rest, "/")
	version, _ := strconv.ParseInt(req.URL.Query().Get("version"), 10, 64)
	switch {
	case rest == "" && req.Method == http.MethodGet:
		all, err := a.Store.Triggers(ctx)
		if err != nil {
			writeErr(w, err)
			return
		}
		out := make([]wireTrigger, 0, len(all))
		for _, s := range all {
			out = append(out, wireTrigger{ID: s.ID, Definition: s.Definition, Status: nilIfEmpty(s.Status), Version: s.Version})
		}
		writeJSON(w, http.StatusOK, out)
	case len(parts) == 1 && rest != "" && req.Method == http.MethodPut:
		body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		if err != nil {
			writeErr(w, err)
			return
		}
		d, err := DecodeDefinition(body)
		if err == nil && d.ID != parts[0] {
			err = fmt.Errorf("%w: id %q in the body, %q in the path", ErrInvalid, d.ID, parts[0])
		}
		if err == nil {
			err = d.Validate()
		}
		if err == nil {
			err = a.checkFunction(ctx, d.Function)
		}
		if err != nil {
			writeErr(w, err)
			return
		}
		v, err := a.Store.PutTrigger(ctx, d.ID, d.Encode(), version)
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]int64{"version": v})
	case len(parts) == 1 && rest != "" && req.Method == http.MethodDelete:
		if err := a.Store.DeleteTrigger(ctx, parts[0], version); err != nil {
			writeErr(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case len(parts) == 2 && parts[1] == "status" && req.Method == http.MethodPut:
		body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		if err == nil {
			err = a.Store.PutTriggerStatus(ctx, parts[0], body)
		}
		if err != nil {
			writeErr(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		writeJSON(w, http.StatusNotFound, wireError{Error: "no such endpoint " + req.Method + " " + req.URL.Path, Code: "endpoint"})
	}
}

// checkFunction refuses a function the Lambda endpoint does not know;
// when Lambda cannot be asked (no endpoint, offline) the definition is
// accepted, and the runner reports the function's state when it invokes.
func (a *Admin) checkFunction(ctx context.Context, fn string) error {
	if a.Functions == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := a.Functions.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: &fn})
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return fmt.Errorf("%w: function %q does not exist", ErrInvalid, fn)
	}
	return nil
}

func nilIfEmpty(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return b
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, err error) {
	code, name := http.StatusInternalServerError, "internal"
	switch {
	case errors.Is(err, ErrInvalid):
		code, name = http.StatusBadRequest, "invalid"
	case errors.Is(err, ErrNotFound):
		code, name = http.StatusNotFound, "not_found"
	case errors.Is(err, ErrExists):
		code, name = http.StatusConflict, "exists"
	case errors.Is(err, ErrConflict):
		code, name = http.StatusConflict, "conflict"
	}
	writeJSON(w, code, wireError{Error: err.Error(), Code: name})
}

// Client is a Store reached through a broker's admin endpoint (the kafki
// CLI and a standalone kafki-triggers use it): base is the broker's HTTP
// listener, e.g. http://127.0.0.1:9644.
type Client struct {
	Base string
	HTTP *http.Client // nil: a client with a 10 s timeout
}

var _ Store = (*Client)(nil)

func (c *Client) do(ctx context.Context, method, path string, body []byte, out any) error {
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.Base, "/")+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("trigger admin: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("trigger admin at %s unreachable: %w", c.Base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("trigger admin at %s: %w", c.Base, err)
	}
	if resp.StatusCode >= 300 {
		var we wireError
		if json.Unmarshal(raw, &we) != nil || we.Code == "" {
			return fmt.Errorf("trigger admin at %s: %s", c.Base, resp.Status)
		}
		msg := we.Error
		var sentinel error
		switch we.Code {
		case "invalid":
			sentinel = ErrInvalid
		case "not_found":
			sentinel = ErrNotFound
		case "exists":
			sentinel = ErrExists
		case "conflict":
			sentinel = ErrConflict
		default:
			return fmt.Errorf("trigger admin at %s: %s", c.Base, msg)
		}
		return &remoteError{msg: msg, sentinel: sentinel}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("trigger admin at %s: bad answer: %w", c.Base, err)
		}
	}
	return nil
}

// remoteError keeps the server's message and its sentinel for errors.Is.
type remoteError struct {
	msg      string
	sentinel error
}

func (e *remoteError) Error() string        { return e.msg }
func (e *remoteError) Is(target error) bool { return target == e.sentinel }

// Triggers implements Store.
func (c *Client) Triggers(ctx context.Context) ([]Stored, error) {
	var w []wireTrigger
	if err := c.do(ctx, http.MethodGet, AdminPath, nil, &w); err != nil {
		return nil, err
	}
	out := make([]Stored, len(w))
	for i, t := range w {
		out[i] = Stored{ID: t.ID, Definition: t.Definition, Status: t.Status, Version: t.Version}
	}
	return out, nil
}

// PutTrigger implements Store.
func (c *Client) PutTrigger(ctx context.Context, id string, def []byte, version int64) (int64, error) {
	var out struct{ Version int64 }
	err := c.do(ctx, http.MethodPut, AdminPath+"/"+url.PathEscape(id)+"?version="+strconv.FormatInt(version, 10), def, &out)
	return out.Version, err
}

// DeleteTrigger implements Store.
func (c *Client) DeleteTrigger(ctx context.Context, id string, version int64) error {
	return c.do(ctx, http.MethodDelete, AdminPath+"/"+url.PathEscape(id)+"?version="+strconv.FormatInt(version, 10), nil, nil)
}

// PutTriggerStatus implements Store.
func (c *Client) PutTriggerStatus(ctx context.Context, id string, status []byte) error {
	return c.do(ctx, http.MethodPut, AdminPath+"/"+url.PathEscape(id)+"/status", status, nil)
}
