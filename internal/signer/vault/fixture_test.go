package vault_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"slices"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/vault"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
	vaulttest "github.com/signerpolicy/signer-policy-operator/test/vault"
)

const (
	ns       = "team-a"
	pkiMount = "pki_int"
	pkiRole  = "example-dot-com"
	signPath = pkiMount + "/sign/" + pkiRole
)

// fixture is a Vault test server with a PKI role for *.example.com, a fake API server holding the
// issuer's Secrets, and the signer under test.
type fixture struct {
	t      *testing.T
	server *vaulttest.Server
	kube   client.Client
	signer *vault.Signer
}

// reviewer accepts the fake client's service-account token, "fake-token", as team-a's vault-auth.
type reviewer struct{}

func (reviewer) Review(_ context.Context, jwt string, _ []string) (string, bool, error) {
	if jwt == "fake-token" || jwt == "static-jwt" {
		return "system:serviceaccount:" + ns + ":vault-auth", true, nil
	}
	return "", false, nil
}

func newFixture(t *testing.T, cfg vaulttest.Config, clk clock.PassiveClock) *fixture {
	t.Helper()
	if cfg.TokenReviewer == nil {
		cfg.TokenReviewer = reviewer{}
	}
	server, err := vaulttest.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(server.Close)
	server.PKIRole(pkiMount, pkiRole, vaulttest.Role{
		AllowedDomains: []string{"example.com"}, AllowSubdomains: true, AllowBareDomains: true,
		AllowedURISANs: []string{"spiffe://cluster.local/*"}, MaxTTL: 48 * time.Hour,
	})
	kube := fake.NewClientBuilder().Build()
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &fixture{t: t, server: server, kube: kube, signer: vault.New(kube, kube, clk)}
}

// create stores obj in the fake API server.
func (f *fixture) create(obj client.Object) {
	f.t.Helper()
	if err := f.kube.Create(context.Background(), obj); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) secret(name string, data map[string][]byte) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: data}
	f.create(s)
	return s
}

// issuer returns an Issuer for the server with the given auth, trusting its serving CA.
func (f *fixture) issuer(auth cmapi.VaultAuth) *cmapi.Issuer {
	return &cmapi.Issuer{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "vault", UID: types.UID("uid-" + f.t.Name()), Generation: 1},
		Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{Vault: &cmapi.VaultIssuer{
			Server: f.server.URL, Path: signPath, CABundle: f.server.ServingCAPEM, Auth: auth,
		}}},
	}
}

// tokenAuth stores a token with sign rights in a Secret and returns auth naming it.
func (f *fixture) tokenAuth() cmapi.VaultAuth {
	f.secret("vault-token", map[string][]byte{"token": []byte(f.server.Token(vaulttest.Policy{signPath}) + "\n")})
	return cmapi.VaultAuth{TokenSecretRef: &cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: "vault-token"}}}
}

// appRoleAuth creates an AppRole with sign rights and stores its secret ID in a Secret.
func (f *fixture) appRoleAuth() (cmapi.VaultAuth, string) {
	roleID, secretID := f.server.AppRole("approle", "signer", vaulttest.Policy{signPath})
	f.secret("approle", map[string][]byte{"secretId": []byte(secretID)})
	return cmapi.VaultAuth{AppRole: &cmapi.VaultAppRole{
		Path: "approle", RoleId: roleID,
		SecretRef: cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: "approle"}, Key: "secretId"},
	}}, secretID
}

// request is a CSR for tmpl with a fresh key, asking for duration.
func request(t *testing.T, issuer cmapi.GenericIssuer, tmpl *x509.CertificateRequest, duration time.Duration) (signer.Request, crypto.Signer) {
	t.Helper()
	key := testpki.NewKey(t, testpki.ECDSA)
	csrPEM := testpki.RequestPEM(t, key, tmpl)
	return signer.Request{
		CSR: &certificatesv1.CertificateSigningRequest{
			ObjectMeta: metav1.ObjectMeta{Name: "csr"},
			Spec:       certificatesv1.CertificateSigningRequestSpec{Request: csrPEM, SignerName: "issuers.cert-manager.io/" + ns + ".vault"},
		},
		Parsed: testpki.ParseRequest(t, csrPEM), Issuer: issuer, ResourceNamespace: ns, Duration: duration,
		Usages: []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth},
	}, key
}

func webRequest() *x509.CertificateRequest {
	return &x509.CertificateRequest{Subject: pkix.Name{CommonName: "web.example.com"}, DNSNames: []string{"web.example.com", "api.example.com"}}
}

// signWeb asks issuer to sign webRequest for an hour, as a reconcile would, and returns the
// signer's error: most tests here are about what the signer answers, not what it issues.
func (f *fixture) signWeb(issuer cmapi.GenericIssuer) error {
	f.t.Helper()
	req, _ := request(f.t, issuer, webRequest(), time.Hour)
	_, err := f.signer.Sign(context.Background(), req)
	return err
}

// issue signs a CSR for tmpl asking for ttl through issuer, as a reconcile would, fails the test
// unless it is signed, and returns the leaf, which verify has checked to expire want from now.
func (f *fixture) issue(issuer cmapi.GenericIssuer, tmpl *x509.CertificateRequest, ttl, want time.Duration) *x509.Certificate {
	f.t.Helper()
	req, key := request(f.t, issuer, tmpl, ttl)
	chain, err := f.signer.Sign(context.Background(), req)
	if err != nil {
		f.t.Fatalf("Sign: %v", err)
	}
	return f.verify(chain, key, want)
}

// verify checks the chain: leaf with key's public key, verifying to the server's root.
func (f *fixture) verify(chain signer.PEMChain, key crypto.Signer, duration time.Duration) *x509.Certificate {
	f.t.Helper()
	certs := testpki.ParseChain(f.t, chain)
	leaf := certs[0]
	if slices.ContainsFunc(certs[1:], f.server.Root.Cert.Equal) {
		f.t.Errorf("status.certificate carries the self-signed root")
	}
	if err := testpki.VerifyChain(certs, f.server.Root.Cert, x509.ExtKeyUsageAny); err != nil {
		f.t.Errorf("chain does not verify to the server's root: %v", err)
	}
	if ok, _ := publicKeyEqual(leaf.PublicKey, key.Public()); !ok {
		f.t.Errorf("leaf does not carry the CSR's public key")
	}
	if got := time.Until(leaf.NotAfter); got < duration-30*time.Second || got > duration+30*time.Second {
		f.t.Errorf("leaf expires in %s, want %s ± 30s", got, duration)
	}
	return leaf
}

func publicKeyEqual(a, b crypto.PublicKey) (bool, error) {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b), nil
}

// expectNoSecret fails if err's message shows any of the secret values.
func expectNoSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), strings.TrimSpace(s)) {
			t.Errorf("error shows a secret value: %q", err)
		}
	}
}
