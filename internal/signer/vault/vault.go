// Package vault signs CertificateSigningRequests for cert-manager Vault issuers through the PKI
// secrets engine's sign endpoint, with the HashiCorp Vault API client. It authenticates the way
// cert-manager does (a token Secret, AppRole, Kubernetes service-account tokens or a TLS client
// certificate) and keeps each issuer's Vault token until shortly before its lease ends, so a burst
// of CSRs for one issuer costs one login.
package vault

import (
	"context"
	"errors"
	"strings"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	vaultapi "github.com/hashicorp/vault/api"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// Reasons of this signer. The names are cert-manager's where it has one, so alerts written for
// cert-manager's Vault signer keep matching.
const (
	// ReasonErrorSigning: Vault refused to sign (permission denied, a name or TTL the role
	// forbids), or answered with something that is not a certificate for this CSR. Permanent.
	ReasonErrorSigning = "ErrorSigning"
	// ReasonErrorLogin: authenticating to Vault failed (a rejected credential, a service-account
	// token that could not be requested). Pending: fixing the credential is enough.
	ReasonErrorLogin = "ErrorLogin"
	// ReasonErrorVaultInit: the issuer's spec.vault cannot be turned into a working client (no
	// auth method, an unusable CA bundle or server address), or Vault is sealed. Pending: fixing
	// the issuer or unsealing Vault is enough.
	ReasonErrorVaultInit = "ErrorVaultInit"
)

// Signer signs through Vault. It is safe for concurrent use; its token cache is shared by every
// CSR of the operator.
type Signer struct {
	secrets         client.Reader
	serviceAccounts client.SubResourceClientConstructor
	tokens          *tokenCache
}

var _ signer.Signer = (*Signer)(nil)

// New returns a Vault signer. secrets reads the issuer's Secrets (pass mgr.GetAPIReader(), so key
// material is never cached); serviceAccounts creates the serviceaccounts/token subresource for
// Kubernetes auth with serviceAccountRef (pass mgr.GetClient()); clk decides when a cached Vault
// token is too close to its lease end to be used.
func New(secrets client.Reader, serviceAccounts client.SubResourceClientConstructor, clk clock.PassiveClock) *Signer {
	return &Signer{secrets: secrets, serviceAccounts: serviceAccounts, tokens: newTokenCache(clk)}
}

// +kubebuilder:rbac:groups="",resources=serviceaccounts/token,verbs=create

// Sign asks Vault to sign the CSR's own PKCS#10 request and returns the certificate followed by
// the chain Vault reports, without a self-signed root, as cert-manager does.
//
// A token that Vault rejects while signing (403) may merely have been revoked or have expired
// early, so the cached token is dropped and the request tried once more with a fresh login; a
// second refusal is Vault's verdict on this CSR.
func (s *Signer) Sign(ctx context.Context, req signer.Request) (signer.PEMChain, error) {
	spec, err := vaultSpec(req.Issuer)
	if err != nil {
		return nil, err
	}
	if req.Parsed == nil || req.CSR == nil {
		return nil, errors.New("vault signer: request carries no parsed CSR")
	}
	iss := describeIssuer(req.Issuer)
	if req.IsCA && isRoleSignPath(spec.Path) {
		// Checked before calling Vault, which would issue an end-entity certificate that then
		// fails the check of the response: better no certificate than one thrown away.
		return nil, signer.Permanent(ReasonErrorSigning,
			"%s: the request asks for a CA certificate, but Vault's PKI sign endpoint (%s) issues only end-entity certificates", iss, spec.Path)
	}
	conn, err := s.connect(ctx, req, spec, iss)
	if err != nil {
		return nil, err
	}
	// Each Sign builds its own transport (the TLS settings come from Secrets that may change);
	// closing its idle connections keeps them from piling up until the idle timeout.
	defer conn.close()

	auth, err := s.authenticator(ctx, req, spec, conn, iss)
	if err != nil {
		return nil, err
	}
	params := signParameters(req)
	for attempt := 0; ; attempt++ {
		token, err := s.tokens.get(ctx, auth.key, auth.login)
		if err != nil {
			return nil, err
		}
		secret, err := conn.sign(ctx, token, spec.Path, params)
		if isForbidden(err) && attempt == 0 {
			s.tokens.invalidate(auth.key, token)
			continue
		}
		if err != nil {
			return nil, signError(iss, spec, err)
		}
		logWarnings(ctx, secret)
		return chainFromResponse(secret, req, iss)
	}
}

// vaultSpec returns the issuer's spec.vault. Only the controller's dispatch can get this wrong; an
// error rather than a panic keeps the other CSRs going.
func vaultSpec(issuer cmapi.GenericIssuer) (*cmapi.VaultIssuer, error) {
	if issuer == nil || issuer.GetSpec() == nil || issuer.GetSpec().Vault == nil {
		return nil, errors.New("vault signer: issuer is not a Vault issuer")
	}
	return issuer.GetSpec().Vault, nil
}

// isRoleSignPath reports whether p is a PKI role's sign endpoint, <mount>/sign/<role> or
// <mount>/issuer/<ref>/sign/<role>, rather than, say, root/sign-intermediate.
func isRoleSignPath(p string) bool {
	parts := strings.Split(logicalPath(p), "/")
	return len(parts) >= 3 && parts[len(parts)-2] == "sign"
}

// logWarnings passes on what Vault warned about while signing, such as a TTL it shortened to the
// role's max_ttl: the certificate is still issued, but whoever reads the logs learns why it is
// shorter than asked for.
func logWarnings(ctx context.Context, secret *vaultapi.Secret) {
	if secret == nil || len(secret.Warnings) == 0 {
		return
	}
	ctrl.LoggerFrom(ctx).Info("Vault warned while signing", "warnings", secret.Warnings)
}
