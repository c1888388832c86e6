package vault

import (
	"context"
	"crypto/tls"
	"fmt"
	"path"
	"strings"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	vaultapi "github.com/hashicorp/vault/api"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// Auth method names, as messages and cache identities show them.
const (
	methodToken      = "token"
	methodAppRole    = "AppRole"
	methodKubernetes = "Kubernetes"
	methodCert       = "TLS certificate"
)

// serviceAccountTokenSeconds is the lifetime of a requested service-account token. The token is
// only presented to Vault's login and then discarded; 10 minutes is the shortest lifetime the
// TokenRequest API accepts, and what cert-manager asks for.
const serviceAccountTokenSeconds = 600

// loginResult is one authentication to Vault: the token it yields and how long Vault says it lives (zero
// for a token without expiry).
type loginResult struct {
	token string
	ttl   time.Duration
}

// loginFunc authenticates to Vault.
type loginFunc func(ctx context.Context) (loginResult, error)

// authenticator is the issuer's auth method, resolved for one Sign call: key identifies the
// credential (so a changed Secret means a new login) and login runs it.
type authenticator struct {
	key   cacheKey
	login loginFunc
}

// authenticator reads the credential the issuer's auth method names and returns how to log in
// with it. The order of precedence is cert-manager's: tokenSecretRef, appRole, clientCertificate,
// kubernetes (aws is not supported). Reading the credential here rather than at login means every
// CSR sees a rotated Secret at once: its resourceVersion is part of the cache key.
func (s *Signer) authenticator(ctx context.Context, req signer.Request, spec *cmapi.VaultIssuer, conn *connection, iss issuerName) (*authenticator, error) {
	a := spec.Auth
	var (
		identity string
		run      loginFunc
		method   string
		err      error
	)
	switch {
	case a.TokenSecretRef != nil:
		method = methodToken
		identity, run, err = s.tokenAuth(ctx, req.ResourceNamespace, *a.TokenSecretRef, conn)
	case a.AppRole != nil:
		method = methodAppRole
		identity, run, err = s.appRoleAuth(ctx, req.ResourceNamespace, a.AppRole, conn, iss)
	case a.ClientCertificate != nil:
		method = methodCert
		identity, run, err = s.certAuth(ctx, req.ResourceNamespace, a.ClientCertificate, spec, conn, iss)
	case a.Kubernetes != nil:
		method = methodKubernetes
		identity, run, err = s.kubernetesAuth(ctx, req, a.Kubernetes, conn, iss)
	case a.AWS != nil:
		return nil, signer.Pending(ReasonErrorVaultInit, "%s: spec.vault.auth.aws is not supported by this operator; use tokenSecretRef, appRole, clientCertificate or kubernetes", iss)
	default:
		return nil, signer.Pending(ReasonErrorVaultInit, "%s: spec.vault.auth sets no auth method", iss)
	}
	if err != nil {
		return nil, err
	}
	return &authenticator{
		key: cacheKey{
			issuer: req.Issuer.GetUID(), generation: req.Issuer.GetGeneration(),
			identity: method + " " + identity + " tls=" + conn.clientCertIdentity,
		},
		login: func(ctx context.Context) (loginResult, error) {
			if err := conn.health(ctx); err != nil {
				return loginResult{}, healthError(iss, conn.server, err)
			}
			l, err := run(ctx)
			if err != nil {
				return loginResult{}, loginError(iss, method, err)
			}
			return l, nil
		},
	}, nil
}

// tokenAuth presents the token in the Secret as is. Its "login" is a lookup-self, which proves the
// token is valid before any CSR is sent with it and tells how long it may be reused.
func (s *Signer) tokenAuth(ctx context.Context, namespace string, ref cmmeta.SecretKeySelector, conn *connection) (string, loginFunc, error) {
	data, secret, err := s.secretValue(ctx, namespace, ref, cmapi.DefaultVaultTokenAuthSecretKey, "spec.vault.auth.tokenSecretRef")
	if err != nil {
		return "", nil, err
	}
	token := strings.TrimSpace(string(data))
	return secretIdentity(secret, ref.Key), func(ctx context.Context) (loginResult, error) {
		self, err := conn.lookupSelf(ctx, token)
		if err != nil {
			return loginResult{}, err
		}
		ttl, err := self.TokenTTL()
		if err != nil {
			return loginResult{}, fmt.Errorf("reading the token's TTL from lookup-self: %w", err)
		}
		return loginResult{token: token, ttl: ttl}, nil
	}, nil
}

// appRoleAuth logs in with the role ID from the issuer and the secret ID from its Secret.
func (s *Signer) appRoleAuth(ctx context.Context, namespace string, role *cmapi.VaultAppRole, conn *connection, iss issuerName) (string, loginFunc, error) {
	// cert-manager requires the key too; without it there is nothing to read.
	if role.SecretRef.Key == "" {
		return "", nil, signer.Pending(ReasonErrorVaultInit, "%s: spec.vault.auth.appRole.secretRef.key is required", iss)
	}
	data, secret, err := s.secretValue(ctx, namespace, role.SecretRef, "", "spec.vault.auth.appRole.secretRef")
	if err != nil {
		return "", nil, err
	}
	mount := keyOr(role.Path, "approle")
	body := map[string]any{"role_id": strings.TrimSpace(role.RoleId), "secret_id": strings.TrimSpace(string(data))}
	identity := fmt.Sprintf("mount=%s role=%s %s", mount, role.RoleId, secretIdentity(secret, role.SecretRef.Key))
	return identity, func(ctx context.Context) (loginResult, error) {
		return tokenFrom(conn.login(ctx, path.Join("auth", mount, "login"), body))
	}, nil
}

// certAuth logs in with a TLS client certificate: the one in clientCertificate.secretName, or else
// the mTLS certificate the connection already presents (clientCertSecretRef/clientKeySecretRef).
func (s *Signer) certAuth(ctx context.Context, namespace string, auth *cmapi.VaultClientCertificateAuth, spec *cmapi.VaultIssuer,
	conn *connection, iss issuerName) (string, loginFunc, error) {
	mount := keyOr(auth.Path, cmapi.DefaultVaultClientCertificateAuthMountPath)
	loginPath := path.Join(logicalPath(mount), "login")
	body := map[string]any{"name": auth.Name}
	identity := fmt.Sprintf("mount=%s name=%s", mount, auth.Name)
	if auth.SecretName == "" {
		return identity, func(ctx context.Context) (loginResult, error) {
			return tokenFrom(conn.login(ctx, loginPath, body))
		}, nil
	}
	secret, err := signer.ReadSecret(ctx, s.secrets, namespace, auth.SecretName, "spec.vault.auth.clientCertificate.secretName")
	if err != nil {
		return "", nil, err
	}
	cert, err := keyPair(secret.Data[corev1.TLSCertKey], secret.Data[corev1.TLSPrivateKeyKey],
		fmt.Sprintf("tls.crt and tls.key of Secret %s/%s", secret.Namespace, secret.Name))
	if err != nil {
		return "", nil, err
	}
	identity += " " + secretIdentity(secret, "")
	return identity, func(ctx context.Context) (loginResult, error) {
		// The login certificate goes first: Go's TLS client presents the first certificate the
		// server accepts, and an mTLS certificate also configured must not be the one that logs in.
		tlsConfig := conn.tlsConfig.Clone()
		tlsConfig.Certificates = append([]tls.Certificate{*cert}, tlsConfig.Certificates...)
		lc, err := newConnection(spec, tlsConfig, iss)
		if err != nil {
			return loginResult{}, err
		}
		defer lc.close()
		return tokenFrom(lc.login(ctx, loginPath, body))
	}, nil
}

// kubernetesAuth logs in with a service-account JWT: the one in secretRef, or a short-lived bound
// token requested for serviceAccountRef when the login runs.
func (s *Signer) kubernetesAuth(ctx context.Context, req signer.Request, auth *cmapi.VaultKubernetesAuth, conn *connection, iss issuerName) (string, loginFunc, error) {
	mount := keyOr(auth.Path, cmapi.DefaultVaultKubernetesAuthMountPath)
	loginPath := path.Join(logicalPath(mount), "login")
	identity := fmt.Sprintf("mount=%s role=%s", mount, auth.Role)
	loginWith := func(ctx context.Context, jwt string) (loginResult, error) {
		return tokenFrom(conn.login(ctx, loginPath, map[string]any{"role": auth.Role, "jwt": jwt}))
	}
	if auth.SecretRef.Name != "" {
		data, secret, err := s.secretValue(ctx, req.ResourceNamespace, auth.SecretRef, cmapi.DefaultVaultTokenAuthSecretKey, "spec.vault.auth.kubernetes.secretRef")
		if err != nil {
			return "", nil, err
		}
		jwt := strings.TrimSpace(string(data))
		return identity + " " + secretIdentity(secret, auth.SecretRef.Key), func(ctx context.Context) (loginResult, error) {
			return loginWith(ctx, jwt)
		}, nil
	}
	if auth.ServiceAccountRef == nil || auth.ServiceAccountRef.Name == "" {
		return "", nil, signer.Pending(ReasonErrorVaultInit, "%s: spec.vault.auth.kubernetes names neither secretRef nor serviceAccountRef", iss)
	}
	audiences := serviceAccountAudiences(req.Issuer, auth.ServiceAccountRef)
	sa := req.ResourceNamespace + "/" + auth.ServiceAccountRef.Name
	identity += fmt.Sprintf(" serviceaccount=%s audiences=%s", sa, strings.Join(audiences, ","))
	return identity, func(ctx context.Context) (loginResult, error) {
		jwt, err := s.serviceAccountToken(ctx, req.ResourceNamespace, auth.ServiceAccountRef.Name, audiences)
		if err != nil {
			return loginResult{}, err
		}
		return loginWith(ctx, jwt)
	}, nil
}

// serviceAccountAudiences are cert-manager's: the configured audiences, then vault://<ns>/<name>
// (vault://<name> for a ClusterIssuer) and the Vault server address. A Vault role that binds the
// issuer-specific audience cannot be used by another issuer's token.
func serviceAccountAudiences(issuer cmapi.GenericIssuer, ref *cmapi.ServiceAccountRef) []string {
	def := "vault://"
	if issuer.GetNamespace() != "" {
		def += issuer.GetNamespace() + "/"
	}
	def += issuer.GetName()
	audiences := append([]string(nil), ref.TokenAudiences...)
	return append(audiences, def, issuer.GetSpec().Vault.Server)
}

// serviceAccountToken requests a bound token through the TokenRequest API
// (serviceaccounts/token), which needs create on that subresource in the resource namespace.
func (s *Signer) serviceAccountToken(ctx context.Context, namespace, name string, audiences []string) (string, error) {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		Audiences: audiences, ExpirationSeconds: ptr.To[int64](serviceAccountTokenSeconds),
	}}
	err := s.serviceAccounts.SubResource("token").Create(ctx, sa, tr)
	switch {
	case apierrors.IsNotFound(err):
		return "", &tokenRequestError{fmt.Sprintf("ServiceAccount %s/%s not found", namespace, name)}
	case apierrors.IsForbidden(err):
		return "", &tokenRequestError{fmt.Sprintf("the operator may not request a token for ServiceAccount %s/%s (needs create on serviceaccounts/token)", namespace, name)}
	case err != nil:
		return "", fmt.Errorf("requesting a token for ServiceAccount %s/%s: %w", namespace, name, err)
	case tr.Status.Token == "":
		return "", fmt.Errorf("requesting a token for ServiceAccount %s/%s: the API server returned no token", namespace, name)
	}
	return tr.Status.Token, nil
}

// tokenRequestError is a TokenRequest that cannot succeed until someone creates the ServiceAccount
// or grants the operator the right; it is reported like a refused login.
type tokenRequestError struct{ msg string }

func (e *tokenRequestError) Error() string { return e.msg }

// tokenFrom takes the token and its lease from a login response.
func tokenFrom(secret *vaultapi.Secret, err error) (loginResult, error) {
	if err != nil {
		return loginResult{}, err
	}
	if secret.Auth == nil || secret.Auth.ClientToken == "" {
		return loginResult{}, fmt.Errorf("vault's login response carries no auth.client_token")
	}
	return loginResult{token: secret.Auth.ClientToken, ttl: time.Duration(secret.Auth.LeaseDuration) * time.Second}, nil
}

// secretIdentity names one version of one key of a Secret, without its contents: a rotated Secret
// gets a new resourceVersion and therefore a new login.
func secretIdentity(secret *corev1.Secret, key string) string {
	return fmt.Sprintf("secret=%s/%s key=%s uid=%s rv=%s", secret.Namespace, secret.Name, key, secret.UID, secret.ResourceVersion)
}
