package acme

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/go-logr/logr"
	certificatesv1 "k8s.io/api/certificates/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	csrutil "github.com/signerpolicy/signer-policy-operator/internal/csr"
	"github.com/signerpolicy/signer-policy-operator/internal/signer"
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
	// Unverified: the index only narrows the search; the server opens what it finds.
	for _, rec := range unverifiedChallenges(csr.Annotations[ChallengesAnnotation]) {
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
//
// It answers only for the operator's own orders: a record counts only on an approved CSR
// addressed to an ACME issuer, and only if it opens with that issuer's account key; the answer is
// the token and that account's thumbprint, whatever the record holds. A requester who planted a
// record with their own account's key authorization gets a 404, not a certificate for someone
// else's name.
type ChallengeServer struct {
	addr   string
	csrs   client.Reader
	signer *Signer
	log    logr.Logger
	listen func(network, address string) (net.Listener, error)
}

var (
	_ manager.Runnable               = (*ChallengeServer)(nil)
	_ manager.LeaderElectionRunnable = (*ChallengeServer)(nil)
)

// NewChallengeServer returns a server listening on addr that reads CSRs through csrs, which
// must have HTTP01TokenIndex registered (a manager's cache client), and issuers and account keys
// as s does.
func (s *Signer) NewChallengeServer(addr string, csrs client.Reader, log logr.Logger) *ChallengeServer {
	return &ChallengeServer{addr: addr, csrs: csrs, signer: s, log: log, listen: net.Listen}
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
// authorization, and 404 for anything the operator did not present. The Host header is not
// checked: the token alone identifies the challenge, and behind an Ingress the host is the
// identifier's.
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
	// A token is on more than one CSR when someone copied it; a CSR that cannot be checked does
	// not keep the one that holds the operator's record from being answered.
	var errs []error
	for i := range csrs.Items {
		keyAuth, found, err := c.answer(ctx, &csrs.Items[i], token)
		if found {
			return keyAuth, true, nil
		}
		errs = append(errs, err)
	}
	return "", false, errors.Join(errs...)
}

// answer returns the key authorization for token if csr holds the operator's own HTTP-01 record
// for it. The cheap checks come first: only a CSR that passes them costs a read of its issuer's
// account key.
func (c *ChallengeServer) answer(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, token string) (string, bool, error) {
	value := csr.Annotations[ChallengesAnnotation]
	if !slices.ContainsFunc(unverifiedChallenges(value), func(r challengeRecord) bool { return isHTTP01For(r, token) }) {
		return "", false, nil
	}
	seal, ok, err := c.signer.challengeSealer(ctx, csr)
	if err != nil || !ok {
		return "", false, err
	}
	records, ok := seal.openChallenges(value)
	if !ok {
		c.log.Info("refusing an HTTP-01 challenge record this operator did not seal", "csr", csr.Name, "token", token)
		return "", false, nil
	}
	if !slices.ContainsFunc(records, func(r challengeRecord) bool { return isHTTP01For(r, token) }) {
		return "", false, nil
	}
	return seal.keys.keyAuthorization(token), true, nil
}

func isHTTP01For(rec challengeRecord, token string) bool {
	return rec.Type == "http-01" && rec.Token == token
}

// challengeSealer returns the sealer the challenge records of csr must open with: that of the
// ACME issuer its signerName names. ok is false for a CSR the operator is not signing (not
// approved, denied, failed, or not addressed to an ACME issuer with an account key), whose
// challenges are none of its business.
func (s *Signer) challengeSealer(ctx context.Context, csr *certificatesv1.CertificateSigningRequest) (sealer, bool, error) {
	if !csrutil.IsApproved(csr) || csrutil.IsDenied(csr) || csrutil.IsFailed(csr) {
		return sealer{}, false, nil
	}
	ref, err := csrutil.ParseSignerName(csr.Spec.SignerName)
	if err != nil {
		return sealer{}, false, nil
	}
	namespace := ref.Namespace
	if ref.Kind == policyv1alpha1.IssuerKindClusterIssuer {
		namespace = s.clusterResourceNamespace
	}
	issuer, err := signer.GetIssuer(ctx, s.client, ref)
	if err != nil {
		return sealer{}, false, client.IgnoreNotFound(err)
	}
	return s.sealerFor(ctx, csr, issuer, namespace)
}

// sealerFor builds the sealer of csr's progress for issuer, whose Secrets are in namespace. ok is
// false when issuer is not an ACME issuer or has no usable account key, so nothing was ever
// sealed for it; the key is never generated here.
func (s *Signer) sealerFor(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, issuer cmapi.GenericIssuer, namespace string) (sealer, bool, error) {
	spec := issuer.GetSpec().ACME
	if spec == nil {
		return sealer{}, false, nil
	}
	if namespace == "" {
		return sealer{}, false, fmt.Errorf("cannot check the challenges of ClusterIssuer %s: the operator was not given the namespace of ClusterIssuers' Secrets", issuer.GetName())
	}
	key, err := s.readAccountKey(ctx, spec, namespace)
	if _, pending := signer.AsPending(err); pending {
		return sealer{}, false, nil
	}
	if err != nil {
		return sealer{}, false, err
	}
	keys, err := deriveAccountKeys(key)
	if err != nil {
		return sealer{}, false, err
	}
	return sealer{keys: keys, csrUID: csr.UID, signerName: csr.Spec.SignerName, server: spec.Server}, true, nil
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
