package vault

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	vaultapi "github.com/hashicorp/vault/api"
	corev1 "k8s.io/api/core/v1"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// requestTimeout bounds one call to Vault. The Vault client's own default is a minute; a CSR
// worker blocked that long holds up the other CSRs of its queue.
const requestTimeout = 30 * time.Second

// issuerName names an issuer in messages: "Issuer ns/name" or "ClusterIssuer name".
type issuerName struct {
	kind, namespace, name string
}

func describeIssuer(issuer cmapi.GenericIssuer) issuerName {
	// The namespace tells the kinds apart; TypeMeta is often empty on typed objects read through
	// controller-runtime.
	if issuer.GetNamespace() == "" {
		return issuerName{kind: cmapi.ClusterIssuerKind, name: issuer.GetName()}
	}
	return issuerName{kind: cmapi.IssuerKind, namespace: issuer.GetNamespace(), name: issuer.GetName()}
}

func (n issuerName) String() string {
	if n.namespace == "" {
		return n.kind + " " + n.name
	}
	return n.kind + " " + n.namespace + "/" + n.name
}

// connection is a Vault API client for one issuer: server address, TLS trust, mTLS client
// certificate and Vault namespace come from spec.vault. It holds a token only for the duration of
// the call that is given one, so a login never carries an earlier identity.
type connection struct {
	// client sends namespaced requests (logins and signing): Vault Enterprise resolves auth
	// mounts and PKI mounts relative to the X-Vault-Namespace header.
	client *vaultapi.Client
	// sys sends root-only requests (sys/health), which Vault refuses with a namespace header.
	sys *vaultapi.Client
	// tlsConfig is the connection's TLS setup, which cert auth extends with its client
	// certificate.
	tlsConfig *tls.Config
	transport *http.Transport
	server    string
	// clientCertIdentity names the Secret versions of the mTLS certificate, which cert auth may
	// log in with; empty without mTLS.
	clientCertIdentity string
}

// connect builds the Vault client for the issuer. Problems with the issuer's own fields are
// pending ErrorVaultInit and problems with its Secrets pending SecretMissing/SecretInvalidData:
// both are fixed by editing those objects, after which the CSR is signed.
func (s *Signer) connect(ctx context.Context, req signer.Request, spec *cmapi.VaultIssuer, iss issuerName) (*connection, error) {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: spec.ServerName}
	roots, err := s.caBundle(ctx, req.ResourceNamespace, spec, iss)
	if err != nil {
		return nil, err
	}
	tlsConfig.RootCAs = roots
	cert, certIdentity, err := s.mtlsCertificate(ctx, req.ResourceNamespace, spec)
	if err != nil {
		return nil, err
	}
	if cert != nil {
		tlsConfig.Certificates = []tls.Certificate{*cert}
	}
	conn, err := newConnection(spec, tlsConfig, iss)
	if err != nil {
		return nil, err
	}
	conn.clientCertIdentity = certIdentity
	return conn, nil
}

// newConnection builds the Vault clients over a transport with tlsConfig.
func newConnection(spec *cmapi.VaultIssuer, tlsConfig *tls.Config, iss issuerName) (*connection, error) {
	cfg := vaultapi.DefaultConfig()
	if cfg.Error != nil {
		return nil, fmt.Errorf("configuring the Vault client: %w", cfg.Error)
	}
	// The issuer alone decides where to connect: an agent address from the operator's environment
	// (VAULT_AGENT_ADDR) would otherwise win over spec.vault.server.
	cfg.Address, cfg.AgentAddress = spec.Server, ""
	cfg.Timeout = requestTimeout
	// One attempt per reconcile: the controller's backoff decides when to try again, and a
	// retried sign request could issue a second certificate.
	cfg.MaxRetries = 0
	transport, ok := cfg.HttpClient.Transport.(*http.Transport)
	if !ok {
		return nil, fmt.Errorf("configuring the Vault client: unexpected transport %T", cfg.HttpClient.Transport)
	}
	// The issuer alone decides whom to trust, too: replacing the TLS config drops what the
	// operator's environment put there (VAULT_CACERT, VAULT_SKIP_VERIFY). The HTTP/2 protocol the
	// client set up is kept.
	tlsConfig.NextProtos = transport.TLSClientConfig.NextProtos
	transport.TLSClientConfig = tlsConfig
	c, err := vaultapi.NewClient(cfg)
	if err != nil {
		return nil, signer.Pending(ReasonErrorVaultInit, "%s: spec.vault.server %q is not a usable Vault address: %w", iss, spec.Server, err)
	}
	// NewClient picks up VAULT_TOKEN and VAULT_NAMESPACE from the operator's environment; neither
	// belongs to this issuer. WithNamespace("") removes the header rather than sending it empty.
	c.ClearToken()
	c = c.WithNamespace(spec.Namespace)
	return &connection{client: c, sys: c.WithNamespace(""), tlsConfig: tlsConfig, transport: transport, server: spec.Server}, nil
}

func (c *connection) close() { c.transport.CloseIdleConnections() }

// caBundle is the pool that verifies Vault's serving certificate: spec.vault.caBundle, else the
// Secret named by caBundleSecretRef (key ca.crt by default), else nil for the system roots.
func (s *Signer) caBundle(ctx context.Context, namespace string, spec *cmapi.VaultIssuer, iss issuerName) (*x509.CertPool, error) {
	if len(spec.CABundle) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(spec.CABundle) {
			return nil, signer.Pending(ReasonErrorVaultInit, "%s: spec.vault.caBundle holds no PEM certificate", iss)
		}
		return pool, nil
	}
	ref := spec.CABundleSecretRef
	if ref == nil {
		return nil, nil
	}
	data, secret, err := s.secretValue(ctx, namespace, *ref, cmmeta.TLSCAKey, "spec.vault.caBundleSecretRef")
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, signer.Pending(signer.ReasonSecretInvalidData, "Secret %s/%s: %s holds no PEM certificate",
			secret.Namespace, secret.Name, keyOr(ref.Key, cmmeta.TLSCAKey))
	}
	return pool, nil
}

// mtlsCertificate is the client certificate presented on every connection when the Vault listener
// requires mTLS: clientCertSecretRef (tls.crt by default) and clientKeySecretRef (tls.key by
// default). Like cert-manager, both must be set for either to be used.
func (s *Signer) mtlsCertificate(ctx context.Context, namespace string, spec *cmapi.VaultIssuer) (*tls.Certificate, string, error) {
	if spec.ClientCertSecretRef == nil || spec.ClientKeySecretRef == nil {
		return nil, "", nil
	}
	certPEM, certSecret, err := s.secretValue(ctx, namespace, *spec.ClientCertSecretRef, corev1.TLSCertKey, "spec.vault.clientCertSecretRef")
	if err != nil {
		return nil, "", err
	}
	keyPEM, keySecret, err := s.secretValue(ctx, namespace, *spec.ClientKeySecretRef, corev1.TLSPrivateKeyKey, "spec.vault.clientKeySecretRef")
	if err != nil {
		return nil, "", err
	}
	cert, err := keyPair(certPEM, keyPEM, fmt.Sprintf("Secrets %s/%s and %s/%s", certSecret.Namespace, certSecret.Name, keySecret.Namespace, keySecret.Name))
	if err != nil {
		return nil, "", err
	}
	return cert, secretIdentity(certSecret, spec.ClientCertSecretRef.Key) + " " + secretIdentity(keySecret, spec.ClientKeySecretRef.Key), nil
}

// keyPair parses a PEM certificate and key. The parser's error is left out of the message: it may
// describe the key bytes, and messages are shown to requesters.
func keyPair(certPEM, keyPEM []byte, where string) (*tls.Certificate, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, signer.Pending(signer.ReasonSecretInvalidData, "%s do not hold a matching PEM certificate and private key", where)
	}
	return &cert, nil
}

// secretValue reads one key of a Secret, defaulting the key when the selector names none.
func (s *Signer) secretValue(ctx context.Context, namespace string, ref cmmeta.SecretKeySelector, defaultKey, field string) ([]byte, *corev1.Secret, error) {
	secret, err := signer.ReadSecret(ctx, s.secrets, namespace, ref.Name, field)
	if err != nil {
		return nil, nil, err
	}
	key := keyOr(ref.Key, defaultKey)
	data := secret.Data[key]
	if len(data) == 0 {
		return nil, nil, signer.Pending(signer.ReasonSecretInvalidData, "Secret %s/%s named by %s has no %s", namespace, ref.Name, field, key)
	}
	return data, secret, nil
}

func keyOr(key, def string) string {
	if key == "" {
		return def
	}
	return key
}
