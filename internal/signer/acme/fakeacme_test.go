package acme

import (
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/go-acme/lego/v4/acme"
)

// fakeACME is just enough of an ACME server for lego's low-level client: a directory, nonces,
// accounts, one order per new-order request listing the authorizations the test configures, and
// challenges that record being asked to validate. Nothing is verified, signatures included; the
// tests are about what the signer asks for and where it sends it.
type fakeACME struct {
	srv *httptest.Server

	mu sync.Mutex
	// authzs are the authorizations every order lists, by path (/authz/<name>).
	authzs map[string]acme.Authorization
	// location, when set, is the order URL new orders are given instead of the server's own.
	location    string
	identifiers []acme.Identifier
	newOrders   int
	// posts lists the paths posted to, in order.
	posts []string
}

func newFakeACME(t *testing.T) *fakeACME {
	t.Helper()
	f := &fakeACME{authzs: map[string]acme.Authorization{}}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// directory is the server's directory URL, for spec.acme.server.
func (f *fakeACME) directory() string { return f.srv.URL + "/directory" }

// caBundle trusts the server (and every other httptest TLS server, which share its certificate).
func (f *fakeACME) caBundle() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
}

// authorize makes every order list a pending authorization for identifier, offering an HTTP-01
// challenge with token at challengeURL (the server's own when empty).
func (f *fakeACME) authorize(typ, value string, wildcard bool, token, challengeURL string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	path := "/authz/" + token
	if challengeURL == "" {
		challengeURL = f.srv.URL + "/chall/" + token
	}
	f.authzs[path] = acme.Authorization{
		Status: acme.StatusPending, Identifier: acme.Identifier{Type: typ, Value: value}, Wildcard: wildcard,
		Challenges: []acme.Challenge{{Type: "http-01", URL: challengeURL, Token: token, Status: acme.StatusPending}},
	}
	return f.srv.URL + path
}

// postedUnder counts the requests posted to paths starting with prefix.
func (f *fakeACME) postedUnder(prefix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, p := range f.posts {
		if strings.HasPrefix(p, prefix) {
			n++
		}
	}
	return n
}

func (f *fakeACME) orders() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.newOrders
}

func (f *fakeACME) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Replay-Nonce", "nonce")
	if r.URL.Path == "/directory" {
		writeJSON(w, http.StatusOK, acme.Directory{
			NewNonceURL: f.srv.URL + "/nonce", NewAccountURL: f.srv.URL + "/account", NewOrderURL: f.srv.URL + "/new-order",
		})
		return
	}
	if r.URL.Path == "/nonce" {
		w.WriteHeader(http.StatusOK)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.posts = append(f.posts, r.URL.Path)
	switch {
	case r.URL.Path == "/account":
		w.Header().Set("Location", f.srv.URL+"/account/1")
		writeJSON(w, http.StatusCreated, acme.Account{Status: acme.StatusValid})
	case r.URL.Path == "/new-order":
		var req acme.Order
		if err := decodePayload(r, &req); err != nil {
			writeJSON(w, http.StatusBadRequest, acme.ProblemDetails{Type: "urn:ietf:params:acme:error:malformed", Detail: err.Error()})
			return
		}
		f.identifiers, f.newOrders = req.Identifiers, f.newOrders+1
		location := f.location
		if location == "" {
			location = f.srv.URL + "/order/1"
		}
		w.Header().Set("Location", location)
		writeJSON(w, http.StatusCreated, f.order())
	case r.URL.Path == "/order/1":
		writeJSON(w, http.StatusOK, f.order())
	case strings.HasPrefix(r.URL.Path, "/authz/"):
		authz, ok := f.authzs[r.URL.Path]
		if !ok {
			writeJSON(w, http.StatusNotFound, acme.ProblemDetails{Type: "urn:ietf:params:acme:error:malformed"})
			return
		}
		writeJSON(w, http.StatusOK, authz)
	case strings.HasPrefix(r.URL.Path, "/chall/"):
		writeJSON(w, http.StatusOK, acme.Challenge{Type: "http-01", Status: acme.StatusProcessing})
	default:
		writeJSON(w, http.StatusNotFound, acme.ProblemDetails{Type: "urn:ietf:params:acme:error:malformed"})
	}
}

func (f *fakeACME) order() acme.Order {
	o := acme.Order{Status: acme.StatusPending, Identifiers: f.identifiers, Finalize: f.srv.URL + "/finalize/1"}
	for path := range f.authzs {
		o.Authorizations = append(o.Authorizations, f.srv.URL+path)
	}
	return o
}

func decodePayload(r *http.Request, v any) error {
	var jws struct{ Payload string }
	if err := json.NewDecoder(r.Body).Decode(&jws); err != nil {
		return err
	}
	payload, err := base64.RawURLEncoding.DecodeString(jws.Payload)
	if err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	return json.Unmarshal(payload, v)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	if status >= http.StatusBadRequest {
		w.Header().Set("Content-Type", "application/problem+json")
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// evilServer stands for a server a requester controls: it answers anything with a fake order
// and counts the requests it gets, which must stay at none.
type evilServer struct {
	srv  *httptest.Server
	mu   sync.Mutex
	hits int
}

func newEvilServer(t *testing.T) *evilServer {
	t.Helper()
	e := &evilServer{}
	e.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		e.mu.Lock()
		e.hits++
		e.mu.Unlock()
		w.Header().Set("Replay-Nonce", "nonce")
		writeJSON(w, http.StatusOK, acme.Order{Status: acme.StatusPending, Authorizations: []string{e.srv.URL + "/authz/victim"}})
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *evilServer) requests() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.hits
}
