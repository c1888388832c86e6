package vault_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"slices"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
	vaulttest "github.com/signerpolicy/signer-policy-operator/test/vault"
)

// wait bounds how long a CSR may take to be signed or to fail.
const wait = 30 * time.Second

// pendingWait covers one pending retry of the signing controller (30s): Secrets of Vault issuers
// are not among those whose changes wake CSRs, so a late Secret is noticed at the retry.
const pendingWait = 60 * time.Second

// The auth methods of the matrix.
const (
	authToken                 = "token"
	authAppRole               = "AppRole"
	authKubernetesSecret      = "Kubernetes secretRef"
	authKubernetesServiceAcct = "Kubernetes serviceAccountRef"
	authCert                  = "TLS certificate"
)

func authMethods() []string {
	return []string{authToken, authAppRole, authKubernetesSecret, authKubernetesServiceAcct, authCert}
}

// vaultIssuer is an Issuer or ClusterIssuer for the Vault test server, with its own PKI role and
// auth mount, and a requester allowed to use it.
type vaultIssuer struct {
	cluster bool
	// ns is the test's namespace (the Issuer's); secretNS holds the issuer's Secrets and service
	// account (ns, or the cluster resource namespace for a ClusterIssuer).
	ns, secretNS string
	name         string
	signerName   string
	// mount is the Vault auth mount, whose logins the server counts.
	mount     string
	requester client.Client
	// user is the requester's user name.
	user   string
	issuer client.Object
}

// signPath is the PKI sign endpoint of the issuer's own role.
func (vi *vaultIssuer) signPath() string { return "pki/sign/" + vi.name }

func (vi *vaultIssuer) kind() string {
	if vi.cluster {
		return "ClusterIssuer"
	}
	return "Issuer"
}

// newVaultIssuer sets up Vault (a PKI role for example.com names, with URI SANs under
// spiffe://cluster.local/ and a 48h max_ttl; the auth method with rights on it) and Kubernetes (the
// credential Secret or service account, the issuer and its policy, a requester).
func newVaultIssuer(t *testing.T, cluster bool, method string) *vaultIssuer {
	t.Helper()
	vi := prepareVaultIssuer(t, cluster)
	auth, secret := vi.auth(t, method)
	if secret != nil {
		env.Create(t, secret)
	}
	vi.createIssuer(t, auth)
	return vi
}

// prepareVaultIssuer creates the namespace, PKI role and requester, but no auth or issuer yet.
func prepareVaultIssuer(t *testing.T, cluster bool) *vaultIssuer {
	t.Helper()
	ns := env.Namespace(t)
	vi := &vaultIssuer{cluster: cluster, ns: ns, secretNS: ns, name: "vault-" + ns}
	if cluster {
		vi.secretNS = clusterResourceNamespace
		vi.signerName = "clusterissuers.cert-manager.io/" + vi.name
	} else {
		vi.signerName = "issuers.cert-manager.io/" + ns + "." + vi.name
	}
	server.PKIRole("pki", vi.name, vaulttest.Role{
		AllowedDomains: []string{"example.com"}, AllowSubdomains: true, AllowBareDomains: true,
		AllowedURISANs: []string{"spiffe://cluster.local/*"}, MaxTTL: 48 * time.Hour,
	})
	vi.user = "requester-" + ns
	env.GrantCSRCreate(t, vi.user)
	if !cluster {
		env.GrantReference(t, ns, vi.name, harness.UserSubject(vi.user))
	}
	vi.requester = env.User(t, vi.user)
	return vi
}

// auth configures Vault for method and returns the issuer's auth and the credential Secret to
// create (nil when the method needs none).
func (vi *vaultIssuer) auth(t *testing.T, method string) (cmapi.VaultAuth, *corev1.Secret) {
	t.Helper()
	policy := vaulttest.Policy{vi.signPath()}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: vi.secretNS, Name: vi.name + "-credentials"}}
	ref := func(key string) cmmeta.SecretKeySelector {
		return cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: secret.Name}, Key: key}
	}
	switch method {
	case authToken:
		vi.mount = "token"
		secret.Data = map[string][]byte{"token": []byte(server.Token(policy))}
		return cmapi.VaultAuth{TokenSecretRef: ptr.To(ref(""))}, secret
	case authAppRole:
		vi.mount = "approle-" + vi.name
		roleID, secretID := server.AppRole(vi.mount, "signer", policy)
		secret.Data = map[string][]byte{"secretId": []byte(secretID)}
		return cmapi.VaultAuth{AppRole: &cmapi.VaultAppRole{Path: vi.mount, RoleId: roleID, SecretRef: ref("secretId")}}, secret
	case authKubernetesSecret:
		vi.mount = "kubernetes-" + vi.name
		sa := vi.serviceAccount(t)
		server.KubernetesAuth(vi.mount, "signer", vaulttest.KubernetesRole{
			BoundServiceAccountNames: []string{sa}, BoundServiceAccountNamespaces: []string{vi.secretNS}, Policy: policy})
		secret.Data = map[string][]byte{"token": []byte(vi.requestToken(t, sa))}
		return cmapi.VaultAuth{Kubernetes: &cmapi.VaultKubernetesAuth{Path: "/v1/auth/" + vi.mount, Role: "signer", SecretRef: ref("")}}, secret
	case authKubernetesServiceAcct:
		vi.mount = "kubernetes-" + vi.name
		sa := vi.serviceAccount(t)
		// The role insists on the issuer-specific audience the operator adds to every token, so a
		// token minted for another issuer, or with the API server's default audience, is refused.
		audience := "vault://" + vi.ns + "/" + vi.name
		if vi.cluster {
			audience = "vault://" + vi.name
		}
		server.KubernetesAuth(vi.mount, "signer", vaulttest.KubernetesRole{
			BoundServiceAccountNames: []string{sa}, BoundServiceAccountNamespaces: []string{vi.secretNS}, Audience: audience, Policy: policy})
		return cmapi.VaultAuth{Kubernetes: &cmapi.VaultKubernetesAuth{Path: "/v1/auth/" + vi.mount, Role: "signer",
			ServiceAccountRef: &cmapi.ServiceAccountRef{Name: sa}}}, nil
	case authCert:
		vi.mount = "cert-" + vi.name
		server.CertAuth(vi.mount, "signer", vaulttest.CertRole{AllowedCommonNames: []string{vi.name}, Policy: policy})
		certPEM, keyPEM, err := server.ClientCertificate(vi.name)
		if err != nil {
			t.Fatal(err)
		}
		secret.Type = corev1.SecretTypeTLS
		secret.Data = map[string][]byte{"tls.crt": certPEM, "tls.key": keyPEM}
		return cmapi.VaultAuth{ClientCertificate: &cmapi.VaultClientCertificateAuth{
			Path: "/v1/auth/" + vi.mount, Name: "signer", SecretName: secret.Name}}, secret
	}
	t.Fatalf("unknown auth method %q", method)
	return cmapi.VaultAuth{}, nil
}

// serviceAccount creates the service account Vault's Kubernetes role binds.
func (vi *vaultIssuer) serviceAccount(t *testing.T) string {
	t.Helper()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: vi.secretNS, Name: vi.name + "-vault"}}
	env.Create(t, sa)
	return sa.Name
}

// requestToken mints a JWT for the service account with the API server's default audience, as the
// token of a service-account token Secret would be.
func (vi *vaultIssuer) requestToken(t *testing.T, sa string) string {
	t.Helper()
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}
	obj := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: vi.secretNS, Name: sa}}
	if err := env.Admin.SubResource("token").Create(context.Background(), obj, tr); err != nil {
		t.Fatalf("requesting a token for %s: %v", sa, err)
	}
	return tr.Status.Token
}

// createIssuer creates the issuer with auth, and a Manual policy for it letting the requester
// ask for what the suite's CSRs do; the tests approve by hand.
func (vi *vaultIssuer) createIssuer(t *testing.T, auth cmapi.VaultAuth) {
	t.Helper()
	spec := cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{Vault: &cmapi.VaultIssuer{
		Server: server.URL, Path: vi.signPath(), CABundle: server.ServingCAPEM, Auth: auth,
	}}}
	if vi.cluster {
		vi.issuer = &cmapi.ClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: vi.name}, Spec: spec}
	} else {
		vi.issuer = &cmapi.Issuer{ObjectMeta: metav1.ObjectMeta{Namespace: vi.ns, Name: vi.name}, Spec: spec}
	}
	env.Create(t, vi.issuer)
	env.GovernWithPolicy(t, harness.ManualPolicy(vi.ref(), vi.user, vi.allowed()))
}

// ref is the issuer as a SignerPolicy names it.
func (vi *vaultIssuer) ref() policyv1alpha1.IssuerReference {
	if vi.cluster {
		return policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindClusterIssuer, Name: vi.name}
	}
	return policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindIssuer, Namespace: vi.ns, Name: vi.name}
}

// allowed is what the suite's CSRs ask for: names under example.com, which the PKI role allows,
// and web.example.org, which it does not, so that Vault and not the policy is what refuses it.
func (vi *vaultIssuer) allowed() policyv1alpha1.Allowed {
	return policyv1alpha1.Allowed{
		CommonName:  []string{"*.example.com"},
		DNSNames:    []string{"*.example.com", "web.example.org"},
		IPAddresses: []string{"10.0.0.7/32"},
		URIs:        []string{"spiffe://cluster.local/ns/" + vi.ns + "/sa/*"},
	}
}

// submit sends an approved CSR for tmpl asking for ttl and returns it with its key.
func (vi *vaultIssuer) submit(t *testing.T, tmpl *x509.CertificateRequest, ttl time.Duration) (*certificatesv1.CertificateSigningRequest, crypto.Signer) {
	t.Helper()
	key := testpki.NewKey(t, testpki.ECDSA)
	c := env.SubmitCSR(t, vi.requester, harness.CSR{
		SignerName: vi.signerName, Request: testpki.RequestPEM(t, key, tmpl),
		ExpirationSeconds: ptr.To(int32(ttl.Seconds())),
	})
	if err := harness.Approve(env.Admin, c.Name); err != nil {
		t.Fatalf("approving %s: %v", c.Name, err)
	}
	return c, key
}

// issued is harness.Issued that tells a Failed CSR from one still waiting: Vault's refusals fail
// the CSR, and a wait that times out should say why.
func issued(c *certificatesv1.CertificateSigningRequest) error {
	if cond := harness.Condition(c, certificatesv1.CertificateFailed); cond != nil {
		return fmt.Errorf("CSR failed: %s: %s", cond.Reason, cond.Message)
	}
	return harness.Issued(c)
}

// verifyIssued checks status.certificate: the leaf carries key, expires ttl after it was issued
// (issuance happened between from and to), and the chain verifies to the test server's root
// without carrying it.
func verifyIssued(t *testing.T, c *certificatesv1.CertificateSigningRequest, key crypto.Signer, ttl time.Duration, from, to time.Time) *x509.Certificate {
	t.Helper()
	certs := testpki.ParseChain(t, c.Status.Certificate)
	leaf := certs[0]
	if slices.ContainsFunc(certs[1:], server.Root.Cert.Equal) {
		t.Errorf("status.certificate carries the self-signed root")
	}
	if err := testpki.VerifyChain(certs, server.Root.Cert, x509.ExtKeyUsageServerAuth); err != nil {
		t.Errorf("status.certificate does not verify to the Vault test server's root: %v", err)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if pub, ok := leaf.PublicKey.(equaler); !ok || !pub.Equal(key.Public()) {
		t.Errorf("the certificate does not carry the CSR's public key")
	}
	if earliest, latest := from.Add(ttl-30*time.Second), to.Add(ttl+30*time.Second); leaf.NotAfter.Before(earliest) || leaf.NotAfter.After(latest) {
		t.Errorf("notAfter %s is not within 30s of %s after issuance (between %s and %s)", leaf.NotAfter, ttl, from, to)
	}
	return leaf
}
