package acme

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net/http"
	"sync"
	"time"

	cmacme "github.com/cert-manager/cert-manager/pkg/apis/acme/v1"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/go-acme/lego/v4/acme"
	"github.com/go-acme/lego/v4/acme/api"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// userAgent names the operator to ACME servers; lego appends its own.
const userAgent = "signer-policy-operator"

// httpTimeout bounds every ACME request. lego's calls take no context, so this is what keeps a
// hung server from holding a reconcile.
const httpTimeout = 30 * time.Second

// account is a registered ACME account and the client that acts for it.
type account struct {
	core *api.Core
	// keys are derived from the account key: they seal the CSRs' progress annotations and make
	// key authorizations.
	keys accountKeys
	// binding identifies what the registration depended on: the directory, the key and how
	// the directory's TLS is verified. Anything else changing does not need a new account.
	binding string
	email   string
	uri     string
}

// accounts caches one registered account per issuer, so that CSRs reuse it instead of
// registering again. Each issuer has its own lock: registering with a slow server holds up that
// issuer's CSRs only.
type accounts struct {
	mu      sync.Mutex
	entries map[string]*accountEntry
}

type accountEntry struct {
	mu      sync.Mutex
	account *account
}

func (a *accounts) entry(issuer string) *accountEntry {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.entries == nil {
		a.entries = map[string]*accountEntry{}
	}
	e, ok := a.entries[issuer]
	if !ok {
		e = &accountEntry{}
		a.entries[issuer] = e
	}
	return e
}

// issuerID names an issuer for the cache; the UID tells a recreated issuer from the old one.
func issuerID(issuer cmapi.GenericIssuer) string {
	return issuer.GetNamespace() + "/" + issuer.GetName() + "/" + string(issuer.GetUID())
}

// account returns the issuer's registered account: the cached one while the server, the key
// and the TLS settings are unchanged, otherwise a new registration.
func (s *Signer) account(ctx context.Context, issuer cmapi.GenericIssuer, namespace string) (*account, error) {
	spec := issuer.GetSpec().ACME
	if spec.Server == "" {
		return nil, signer.Pending(ReasonInvalidIssuer, "spec.acme.server is empty")
	}
	key, err := s.accountKey(ctx, spec, namespace)
	if err != nil {
		return nil, err
	}
	binding, err := accountBinding(spec, key)
	if err != nil {
		return nil, err
	}
	e := s.accounts.entry(issuerID(issuer))
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.account != nil && e.account.binding == binding {
		if e.account.email != spec.Email {
			s.updateEmail(ctx, e.account, spec.Email)
		}
		return e.account, nil
	}
	acct, err := s.register(ctx, spec, namespace, key)
	if err != nil {
		return nil, err
	}
	acct.binding = binding
	e.account = acct
	ctrl.LoggerFrom(ctx).Info("registered ACME account", "server", spec.Server, "account", acct.uri)
	return acct, nil
}

// accountBinding fingerprints what an account depends on. The key enters as its public half.
func accountBinding(spec *cmacme.ACMEIssuer, key crypto.Signer) (string, error) {
	spki, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return "", signer.Pending(ReasonInvalidIssuer, "the account key's public key cannot be encoded")
	}
	h := sha256.New()
	for _, part := range [][]byte{[]byte(spec.Server), spki, spec.CABundle, {boolByte(spec.SkipTLSVerify)}} {
		h.Write(part)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// register creates (or, for a key the server knows, looks up) the account, agreeing to the
// terms of service as cert-manager does and binding it to an external account when asked.
func (s *Signer) register(ctx context.Context, spec *cmacme.ACMEIssuer, namespace string, key crypto.Signer) (*account, error) {
	httpClient, err := directoryClient(spec)
	if err != nil {
		return nil, err
	}
	keys, err := deriveAccountKeys(key)
	if err != nil {
		return nil, err
	}
	core, err := api.New(httpClient, userAgent, spec.Server, "", key)
	if err != nil {
		return nil, fmt.Errorf("reading the ACME directory %s: %w", spec.Server, err)
	}
	req := acme.Account{TermsOfServiceAgreed: true, Contact: contact(spec.Email)}
	if eab := spec.ExternalAccountBinding; eab != nil {
		req.ExternalAccountBinding, err = s.externalAccountBinding(ctx, eab, namespace, core.GetDirectory().NewAccountURL, key)
		if err != nil {
			return nil, err
		}
	}
	acct, err := core.Accounts.New(req)
	if err != nil {
		if p, ok := problemOf(err); ok && p.HTTPStatus < http.StatusInternalServerError {
			return nil, signer.PendingAfter(s.poll.max, ReasonAccountRegistrationFailed,
				"the ACME server %s refused to register the account: %s", spec.Server, describe(p))
		}
		return nil, fmt.Errorf("registering with the ACME server %s: %w", spec.Server, err)
	}
	return &account{core: core, keys: keys, email: spec.Email, uri: acct.Location}, nil
}

// updateEmail changes the account's contact after spec.acme.email changed. A failure only
// costs the new contact, so it is logged and issuance goes on; the next CSR tries again.
func (s *Signer) updateEmail(ctx context.Context, acct *account, email string) {
	if _, err := acct.core.Accounts.Update(acct.uri, acme.Account{Contact: contact(email)}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "updating the ACME account's contact", "account", acct.uri)
		return
	}
	acct.email = email
}

func contact(email string) []string {
	if email == "" {
		return nil
	}
	return []string{"mailto:" + email}
}

// directoryClient is the HTTP client for the issuer's ACME server: spec.acme.caBundle, when
// set, replaces the system roots, as in cert-manager, and skipTLSVerify turns verification off.
// Each account gets its own client because lego wraps the client's transport.
func directoryClient(spec *cmacme.ACMEIssuer) (*http.Client, error) {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(spec.CABundle) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(spec.CABundle) {
			return nil, signer.Pending(ReasonInvalidIssuer, "spec.acme.caBundle holds no PEM certificate")
		}
		tlsConfig.RootCAs = pool
	}
	// The issuer's owner asked for it, for servers with certificates nobody can verify.
	tlsConfig.InsecureSkipVerify = spec.SkipTLSVerify //nolint:gosec
	transport := &http.Transport{Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true}
	if base, ok := http.DefaultTransport.(*http.Transport); ok {
		transport = base.Clone()
	}
	transport.TLSClientConfig = tlsConfig
	return &http.Client{Timeout: httpTimeout, Transport: transport}, nil
}
