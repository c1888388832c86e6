// Package vault is a Vault test server: an HTTPS server on loopback that implements the part of
// Vault's documented HTTP API the operator's Vault signer uses, shaped as Vault shapes it, so the
// signer can be tested with the real github.com/hashicorp/vault/api client.
//
// It implements sys/health, auth/token/lookup-self, AppRole, Kubernetes (validating JWTs through a
// real API server's TokenReview API) and TLS certificate logins, and <pki mount>/sign/<role> with
// the role rules that decide what Vault refuses: allowed_domains, allow_subdomains,
// allow_bare_domains, allow_ip_sans, allowed_uri_sans and max_ttl. Tokens carry a policy (the sign
// paths they may use) and a TTL; X-Vault-Namespace is honoured; logins are counted per method and
// per mount.
//
// It stands in for a real Vault server, which cannot be built here: docs/development.md says why.
package vault

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"sync"
	"time"

	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

// Auth methods, as Logins counts them. A token is "logged in" with auth/token/lookup-self, which
// is how the signer checks a token from a Secret.
const (
	MethodToken      = "token"
	MethodAppRole    = "approle"
	MethodKubernetes = "kubernetes"
	MethodCert       = "cert"
)

// ServerName is a DNS name in the server's serving certificate besides 127.0.0.1, for tests of
// spec.vault.serverName.
const ServerName = "vault.test"

// Config configures a Server. The zero value is a plain HTTPS Vault in the root namespace.
type Config struct {
	// Namespace is the Vault Enterprise namespace every mount and token lives in; requests must
	// carry it in X-Vault-Namespace (sys/ paths excepted, as in Vault). Empty is the root namespace.
	Namespace string
	// RequireClientCertificate makes the listener refuse connections without a client certificate
	// from the server's client CA, as a Vault listener with tls_require_and_verify_client_cert does.
	RequireClientCertificate bool
	// TokenReviewer validates JWTs presented to Kubernetes logins; those logins fail without one.
	TokenReviewer TokenReviewer
	// LoginTTL is the lease of tokens issued by logins; an hour when zero.
	LoginTTL time.Duration
}

// Policy lists the API paths a token may write, as "pki/sign/web"; a trailing "*" matches any
// suffix.
type Policy []string

func (p Policy) allows(reqPath string) bool {
	for _, allowed := range p {
		if prefix, ok := strings.CutSuffix(allowed, "*"); (ok && strings.HasPrefix(reqPath, prefix)) || allowed == reqPath {
			return true
		}
	}
	return false
}

// Server is a running Vault test server.
type Server struct {
	// URL is the server's address, https://127.0.0.1:<port>.
	URL string
	// ServingCAPEM is the CA of the serving certificate, for spec.vault.caBundle.
	ServingCAPEM []byte
	// Root is the PKI root CA; certificates are issued by an intermediate it signed.
	Root *testpki.CA
	// Intermediate issues the certificates of every PKI mount.
	Intermediate *testpki.CA
	// ClientCA issues the client certificates the listener and cert auth trust.
	ClientCA *testpki.CA

	cfg  Config
	http *httptest.Server

	mu       sync.Mutex
	sealed   bool
	tokens   map[string]*token
	roles    map[string]Role // "<mount>/<role>"
	appRoles map[string]*appRole
	kubes    map[string]KubernetesRole // "<mount>/<role>"
	certs    map[string]CertRole       // "<mount>/<name>"
	mounts   map[string]string         // auth mount → method
	logins   map[string]int            // per method
	atMount  map[string]int            // per auth mount
	signed   int
}

// token is a Vault token the server issued.
type token struct {
	policy  Policy
	expires time.Time // zero: never
	created time.Time
	method  string
}

// Start starts a server on 127.0.0.1 with a fresh serving certificate and PKI.
func Start(cfg Config) (*Server, error) {
	if cfg.LoginTTL == 0 {
		cfg.LoginTTL = time.Hour
	}
	s := &Server{
		cfg: cfg, tokens: map[string]*token{}, roles: map[string]Role{}, appRoles: map[string]*appRole{},
		kubes: map[string]KubernetesRole{}, certs: map[string]CertRole{}, mounts: map[string]string{}, logins: map[string]int{}, atMount: map[string]int{},
	}
	const year = 365 * 24 * time.Hour
	var err error
	if s.Root, err = testpki.NewAuthority("Vault Test Root", nil, 2*year); err != nil {
		return nil, err
	}
	// A year: long enough for the 90-day default lifetime and for max_ttl tests, short enough that
	// a TTL beyond it can be asked for.
	if s.Intermediate, err = testpki.NewAuthority("Vault Test Intermediate", s.Root, year); err != nil {
		return nil, err
	}
	if s.ClientCA, err = testpki.NewAuthority("Vault Test Client CA", nil, 2*year); err != nil {
		return nil, err
	}
	servingCA, err := testpki.NewAuthority("Vault Test Serving CA", nil, 2*year)
	if err != nil {
		return nil, err
	}
	certPEM, keyPEM, err := servingCA.ServingKeyPair(ServerName)
	if err != nil {
		return nil, err
	}
	serving, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	s.ServingCAPEM = servingCA.CertPEM
	s.http = httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	// Clients that close connections mid-handshake (the signer's own per-call transports) are
	// normal here, not worth a log line each.
	s.http.Config.ErrorLog = log.New(io.Discard, "", 0)
	clientAuth := tls.VerifyClientCertIfGiven
	if cfg.RequireClientCertificate {
		clientAuth = tls.RequireAndVerifyClientCert
	}
	s.http.TLS = &tls.Config{Certificates: []tls.Certificate{serving}, ClientAuth: clientAuth, ClientCAs: s.ClientCA.Pool(), MinVersion: tls.VersionTLS12}
	s.http.StartTLS()
	s.URL = s.http.URL
	return s, nil
}

// Close stops the server.
func (s *Server) Close() { s.http.Close() }

// Token creates a token with policy and no expiry, as `vault token create -policy=...` with a
// periodic or root parent would.
func (s *Server) Token(policy Policy) string {
	return s.newToken(policy, 0, MethodToken)
}

// TokenWithTTL creates a token with policy that expires after ttl.
func (s *Server) TokenWithTTL(policy Policy, ttl time.Duration) string {
	return s.newToken(policy, ttl, MethodToken)
}

// RevokeTokens revokes every token the auth method issued (MethodToken for those made by Token
// and TokenWithTTL), as an operator revoking by accessor would.
func (s *Server) RevokeTokens(method string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t, tok := range s.tokens {
		if tok.method == method {
			delete(s.tokens, t)
		}
	}
}

// Seal seals or unseals the server: a sealed Vault answers every request but sys/health with 503.
func (s *Server) Seal(sealed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sealed = sealed
}

// Logins returns how many logins (successful or not) the auth method has seen.
func (s *Server) Logins(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins[method]
}

// LoginsAt returns how many logins (successful or not) the auth mount has seen, as "approle" or
// "kubernetes-team-a": tests that share a server give each issuer its own mount to count.
func (s *Server) LoginsAt(mount string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.atMount[mount]
}

// Signed returns how many certificates the server has issued.
func (s *Server) Signed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signed
}

func (s *Server) newToken(policy Policy, ttl time.Duration, method string) string {
	t := "hvs." + rand.Text()
	now := time.Now()
	tok := &token{policy: policy, created: now, method: method}
	if ttl > 0 {
		tok.expires = now.Add(ttl)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[t] = tok
	return t
}

// vaultResponse is Vault's response envelope.
type vaultResponse struct {
	RequestID     string   `json:"request_id"`
	LeaseID       string   `json:"lease_id"`
	Renewable     bool     `json:"renewable"`
	LeaseDuration int      `json:"lease_duration"`
	Data          any      `json:"data"`
	WrapInfo      any      `json:"wrap_info"`
	Warnings      []string `json:"warnings"`
	Auth          *auth    `json:"auth"`
}

type auth struct {
	ClientToken   string            `json:"client_token"`
	Accessor      string            `json:"accessor"`
	Policies      []string          `json:"policies"`
	TokenPolicies []string          `json:"token_policies"`
	Metadata      map[string]string `json:"metadata"`
	LeaseDuration int               `json:"lease_duration"`
	Renewable     bool              `json:"renewable"`
	EntityID      string            `json:"entity_id"`
	TokenType     string            `json:"token_type"`
	Orphan        bool              `json:"orphan"`
}

// apiError is an error answered in Vault's {"errors": [...]} envelope.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) error {
	return &apiError{status: status, msg: fmt.Sprintf(format, args...)}
}

var errPermissionDenied = &apiError{status: http.StatusForbidden, msg: "permission denied"}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := s.route(r)
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		status := http.StatusInternalServerError
		var ae *apiError
		if errors.As(err, &ae) {
			status = ae.status
		}
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string][]string{"errors": {err.Error()}})
		return
	}
	if resp, ok := body.(*vaultResponse); ok {
		resp.RequestID = rand.Text()
	}
	_ = json.NewEncoder(w).Encode(body)
}

// route dispatches a request the way Vault's router does: sys/ first (not namespaced), then the
// seal check, the namespace, auth mounts and PKI mounts.
func (s *Server) route(r *http.Request) (any, error) {
	p, ok := strings.CutPrefix(r.URL.Path, "/v1/")
	if !ok {
		return nil, errorf(http.StatusNotFound, "not found")
	}
	if p == "sys/health" && r.Method == http.MethodGet {
		return s.health(r)
	}
	s.mu.Lock()
	sealed := s.sealed
	s.mu.Unlock()
	if sealed {
		return nil, errorf(http.StatusServiceUnavailable, "Vault is sealed")
	}
	if r.Header.Get("X-Vault-Namespace") != s.cfg.Namespace {
		return nil, errorf(http.StatusNotFound, "no handler for route %q. route entry not found.", namespaced(r.Header.Get("X-Vault-Namespace"), p))
	}
	switch {
	case p == "auth/token/lookup-self" && r.Method == http.MethodGet:
		return s.lookupSelf(r)
	case r.Method != http.MethodPost && r.Method != http.MethodPut:
		return nil, errorf(http.StatusMethodNotAllowed, "unsupported operation")
	case strings.HasPrefix(p, "auth/") && path.Base(p) == "login":
		return s.login(r, strings.TrimSuffix(strings.TrimPrefix(p, "auth/"), "/login"))
	case strings.Contains(p, "/sign/"):
		return s.sign(r, p)
	}
	return nil, errorf(http.StatusNotFound, "no handler for route %q. route entry not found.", p)
}

func namespaced(ns, p string) string {
	if ns == "" {
		return p
	}
	return strings.Trim(ns, "/") + "/" + p
}

// health answers sys/health, whose body, unlike other endpoints', is not wrapped in Vault's
// response envelope. A sealed server answers 503 unless the query asks for another code.
func (s *Server) health(r *http.Request) (any, error) {
	s.mu.Lock()
	sealed := s.sealed
	s.mu.Unlock()
	body := map[string]any{
		"initialized": true, "sealed": sealed, "standby": false, "performance_standby": false,
		"replication_performance_mode": "disabled", "replication_dr_mode": "disabled",
		"server_time_utc": time.Now().Unix(), "version": "1.21.4+test", "cluster_name": "vault-test",
	}
	if sealed && r.URL.Query().Get("sealedcode") == "" {
		return nil, errorf(http.StatusServiceUnavailable, "Vault is sealed")
	}
	return body, nil
}

// authenticate returns the token record of the request's X-Vault-Token.
func (s *Server) authenticate(r *http.Request) (*token, error) {
	t := r.Header.Get("X-Vault-Token")
	s.mu.Lock()
	defer s.mu.Unlock()
	tok, ok := s.tokens[t]
	if !ok || t == "" {
		return nil, errPermissionDenied
	}
	if !tok.expires.IsZero() && time.Now().After(tok.expires) {
		delete(s.tokens, t)
		return nil, errPermissionDenied
	}
	return tok, nil
}

func (s *Server) lookupSelf(r *http.Request) (*vaultResponse, error) {
	s.mu.Lock()
	s.logins[MethodToken]++
	s.mu.Unlock()
	tok, err := s.authenticate(r)
	if err != nil {
		return nil, err
	}
	ttl := 0
	var expire any
	if !tok.expires.IsZero() {
		ttl = int(time.Until(tok.expires).Seconds())
		expire = tok.expires.UTC().Format(time.RFC3339Nano)
	}
	return &vaultResponse{Data: map[string]any{
		"id": r.Header.Get("X-Vault-Token"), "accessor": "accessor-" + rand.Text()[:8], "policies": []string{"default", "signer"},
		"ttl": ttl, "expire_time": expire, "creation_time": tok.created.Unix(), "type": "service",
		"display_name": tok.method, "renewable": ttl > 0, "path": "auth/token/create",
	}}, nil
}

// decode reads a JSON request body into v.
func decode(r *http.Request, v any) error {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		return errorf(http.StatusBadRequest, "failed to parse JSON input: %v", err)
	}
	return nil
}

// loginResponse issues a token for a successful login.
func (s *Server) loginResponse(method string, policy Policy, metadata map[string]string) *vaultResponse {
	t := s.newToken(policy, s.cfg.LoginTTL, method)
	ttl := int(s.cfg.LoginTTL.Seconds())
	return &vaultResponse{Auth: &auth{
		ClientToken: t, Accessor: "accessor-" + rand.Text()[:8], Policies: []string{"default", "signer"}, TokenPolicies: []string{"default", "signer"},
		Metadata: metadata, LeaseDuration: ttl, Renewable: true, TokenType: "service", Orphan: true,
	}}
}

// reviewContext bounds a TokenReview made on behalf of a login.
func reviewContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), 10*time.Second)
}
