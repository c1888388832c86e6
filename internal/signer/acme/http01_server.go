package acme

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/go-logr/logr"
	certificatesv1 "k8s.io/api/certificates/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// HTTP01TokenIndex indexes CSRs by the tokens of the HTTP-01 challenges presented for them, so
// the challenge server finds a key authorization without scanning every CSR.
const HTTP01TokenIndex = "acme.policy.signerpolicy.dev/http01-token"

// IndexHTTP01Tokens is the index function behind HTTP01TokenIndex.
func IndexHTTP01Tokens(obj client.Object) []string {
	csr, ok := obj.(*certificatesv1.CertificateSigningRequest)
	if !ok {
		return nil
	}
	var tokens []string
	for _, rec := range decodeChallenges(csr.Annotations[ChallengesAnnotation]) {
		if rec.Type == "http-01" && rec.Token != "" {
			tokens = append(tokens, rec.Token)
		}
	}
	return tokens
}

// ChallengeServer answers HTTP-01 validation requests from the challenge records on CSRs. It
// runs in every replica (it needs no leader): the records live in the API, read through each
// replica's informer cache, so whichever replica a Service or Ingress routes a request to can
// answer for a challenge another replica presented.
type ChallengeServer struct {
	addr   string
	csrs   client.Reader
	log    logr.Logger
	listen func(network, address string) (net.Listener, error)
}

var (
	_ manager.Runnable               = (*ChallengeServer)(nil)
	_ manager.LeaderElectionRunnable = (*ChallengeServer)(nil)
)

// NewChallengeServer returns a server listening on addr that reads CSRs through csrs, which
// must have HTTP01TokenIndex registered (a manager's cache client).
func NewChallengeServer(addr string, csrs client.Reader, log logr.Logger) *ChallengeServer {
	return &ChallengeServer{addr: addr, csrs: csrs, log: log, listen: net.Listen}
}

// NeedLeaderElection is false: every replica serves, whichever one is leading.
func (c *ChallengeServer) NeedLeaderElection() bool { return false }

// Start serves until ctx ends, then shuts down, letting requests in flight finish briefly.
func (c *ChallengeServer) Start(ctx context.Context) error {
	ln, err := c.listen("tcp", c.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: c, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	c.log.Info("serving ACME HTTP-01 challenges", "address", ln.Addr().String())
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// ServeHTTP answers GET and HEAD for /.well-known/acme-challenge/<token> with the key
// authorization, and 404 for anything it did not present. The Host header is not checked: the
// token alone identifies the challenge, and behind an Ingress the host is the identifier's.
func (c *ChallengeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	token, ok := strings.CutPrefix(r.URL.Path, http01Path)
	if !ok || !validToken(token) {
		http.NotFound(w, r)
		return
	}
	keyAuth, found, err := c.keyAuthorization(r.Context(), token)
	if err != nil {
		c.log.Error(err, "looking up an HTTP-01 challenge")
		http.Error(w, "lookup failed", http.StatusServiceUnavailable)
		return
	}
	if !found {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte(keyAuth))
}

func (c *ChallengeServer) keyAuthorization(ctx context.Context, token string) (string, bool, error) {
	var csrs certificatesv1.CertificateSigningRequestList
	if err := c.csrs.List(ctx, &csrs, client.MatchingFields{HTTP01TokenIndex: token}); err != nil {
		return "", false, err
	}
	for i := range csrs.Items {
		for _, rec := range decodeChallenges(csrs.Items[i].Annotations[ChallengesAnnotation]) {
			if rec.Type == "http-01" && rec.Token == token {
				return rec.KeyAuth, true, nil
			}
		}
	}
	return "", false, nil
}

// validToken accepts the base64url alphabet tokens are made of (RFC 8555 section 8.3), keeping
// anything else away from the index.
func validToken(token string) bool {
	if token == "" || len(token) > 256 {
		return false
	}
	for _, r := range token {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
