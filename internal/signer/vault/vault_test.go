package vault_test

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"net/url"
	"slices"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/signertest"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/vault"
	vaulttest "github.com/signerpolicy/signer-policy-operator/test/vault"
)

func TestSignsWithEveryAuthMethod(t *testing.T) {
	cases := []struct {
		name   string
		cfg    vaulttest.Config
		auth   func(f *fixture) cmapi.VaultAuth
		method string // whose logins the server counts; "" for token auth
		mtls   bool
	}{
		{name: "token", auth: (*fixture).tokenAuth},
		{name: "AppRole", method: vaulttest.MethodAppRole, auth: func(f *fixture) cmapi.VaultAuth {
			a, _ := f.appRoleAuth()
			return a
		}},
		{name: "Kubernetes with a token Secret", method: vaulttest.MethodKubernetes, auth: func(f *fixture) cmapi.VaultAuth {
			f.server.KubernetesAuth("kubernetes", "signer", vaulttest.KubernetesRole{
				BoundServiceAccountNames: []string{"vault-auth"}, BoundServiceAccountNamespaces: []string{ns}, Policy: vaulttest.Policy{signPath}})
			f.secret("sa-jwt", map[string][]byte{"token": []byte("static-jwt")})
			return cmapi.VaultAuth{Kubernetes: &cmapi.VaultKubernetesAuth{Role: "signer",
				SecretRef: cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: "sa-jwt"}}}}
		}},
		{name: "Kubernetes with a requested token", method: vaulttest.MethodKubernetes, auth: func(f *fixture) cmapi.VaultAuth {
			f.server.KubernetesAuth("k8s", "signer", vaulttest.KubernetesRole{
				BoundServiceAccountNames: []string{"vault-auth"}, BoundServiceAccountNamespaces: []string{ns}, Policy: vaulttest.Policy{signPath}})
			f.create(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "vault-auth"}})
			return cmapi.VaultAuth{Kubernetes: &cmapi.VaultKubernetesAuth{Role: "signer", Path: "/v1/auth/k8s",
				ServiceAccountRef: &cmapi.ServiceAccountRef{Name: "vault-auth"}}}
		}},
		{name: "TLS certificate from secretName", method: vaulttest.MethodCert, auth: func(f *fixture) cmapi.VaultAuth {
			f.server.CertAuth("cert", "signer", vaulttest.CertRole{AllowedCommonNames: []string{"signer"}, Policy: vaulttest.Policy{signPath}})
			certPEM, keyPEM, err := f.server.ClientCertificate("signer")
			if err != nil {
				t.Fatal(err)
			}
			f.secret("client-cert", map[string][]byte{"tls.crt": certPEM, "tls.key": keyPEM})
			return cmapi.VaultAuth{ClientCertificate: &cmapi.VaultClientCertificateAuth{Name: "signer", SecretName: "client-cert"}}
		}},
		{name: "TLS certificate of an mTLS listener", method: vaulttest.MethodCert, mtls: true,
			cfg: vaulttest.Config{RequireClientCertificate: true}, auth: func(f *fixture) cmapi.VaultAuth {
				f.server.CertAuth("cert", "signer", vaulttest.CertRole{Policy: vaulttest.Policy{signPath}})
				return cmapi.VaultAuth{ClientCertificate: &cmapi.VaultClientCertificateAuth{}}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.cfg, nil)
			issuer := f.issuer(tc.auth(f))
			if tc.mtls {
				f.mtls(issuer)
			}
			uri, _ := url.Parse("spiffe://cluster.local/ns/team-a/sa/web")
			leaf := f.issue(issuer, &x509.CertificateRequest{
				Subject: pkix.Name{CommonName: "web.example.com"}, DNSNames: []string{"web.example.com", "api.example.com"},
				IPAddresses: []net.IP{net.ParseIP("10.0.0.7")}, URIs: []*url.URL{uri},
			}, 5*time.Hour, 5*time.Hour)
			if !slices.Equal(leaf.DNSNames, []string{"web.example.com", "api.example.com"}) || len(leaf.IPAddresses) != 1 || len(leaf.URIs) != 1 {
				t.Errorf("SANs %v %v %v, want the CSR's", leaf.DNSNames, leaf.IPAddresses, leaf.URIs)
			}
			if tc.method != "" && f.server.Logins(tc.method) != 1 {
				t.Errorf("%d %s logins, want 1", f.server.Logins(tc.method), tc.method)
			}
		})
	}
}

// mtls makes the issuer present a client certificate on every connection.
func (f *fixture) mtls(issuer *cmapi.Issuer) {
	certPEM, keyPEM, err := f.server.ClientCertificate("operator")
	if err != nil {
		f.t.Fatal(err)
	}
	f.secret("mtls-cert", map[string][]byte{"tls.crt": certPEM})
	f.secret("mtls-key", map[string][]byte{"key.pem": keyPEM})
	issuer.Spec.Vault.ClientCertSecretRef = &cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: "mtls-cert"}}
	issuer.Spec.Vault.ClientKeySecretRef = &cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: "mtls-key"}, Key: "key.pem"}
}

func TestConnectsWithServerNameCABundleSecretAndNamespace(t *testing.T) {
	f := newFixture(t, vaulttest.Config{Namespace: "tenants/a"}, nil)
	issuer := f.issuer(f.tokenAuth())
	// The serving certificate names vault.test and 127.0.0.1; serverName must be honoured for a
	// name that only the certificate knows.
	issuer.Spec.Vault.ServerName = vaulttest.ServerName
	issuer.Spec.Vault.CABundle = nil
	f.secret("vault-ca", map[string][]byte{"ca.crt": f.server.ServingCAPEM})
	issuer.Spec.Vault.CABundleSecretRef = &cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: "vault-ca"}}

	if err := f.signWeb(issuer); err == nil {
		t.Fatal("signed without the Vault namespace the server requires")
	}
	issuer.Spec.Vault.Namespace = "tenants/a"
	issuer.Generation++
	f.issue(issuer, webRequest(), time.Hour, time.Hour)
}

func TestAnUntrustedServerIsRetried(t *testing.T) {
	f := newFixture(t, vaulttest.Config{}, nil)
	issuer := f.issuer(f.tokenAuth())
	issuer.Spec.Vault.CABundle = f.server.Root.CertPEM // not the serving CA
	err := f.signWeb(issuer)
	if err == nil {
		t.Fatal("signed through a server whose certificate is not trusted")
	}
	signertest.ExpectPlainError(t, err)
}

func TestVaultRefusalsArePermanentWithVaultsMessage(t *testing.T) {
	cases := []struct {
		name string
		tmpl *x509.CertificateRequest
		ttl  time.Duration
		want string
	}{
		{name: "a name outside allowed_domains", tmpl: &x509.CertificateRequest{DNSNames: []string{"web.example.org"}},
			ttl: time.Hour, want: "subject alternate name web.example.org not allowed by this role"},
		{name: "a common name outside allowed_domains", tmpl: &x509.CertificateRequest{Subject: pkix.Name{CommonName: "evil.test"}},
			ttl: time.Hour, want: "common name evil.test not allowed by this role"},
		{name: "a URI the role does not allow", tmpl: &x509.CertificateRequest{URIs: []*url.URL{{Scheme: "https", Host: "evil.test"}}},
			ttl: time.Hour, want: "URI Subject Alternative Name https://evil.test not allowed by this role"},
		{name: "a TTL beyond the CA's expiry", tmpl: webRequest(), ttl: 5 * 365 * 24 * time.Hour,
			want: "beyond the expiration of the CA certificate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, vaulttest.Config{}, nil)
			f.server.PKIRole(pkiMount, pkiRole, vaulttest.Role{
				AllowedDomains: []string{"example.com"}, AllowSubdomains: true, AllowedURISANs: []string{"spiffe://*"}, MaxTTL: 10 * 365 * 24 * time.Hour})
			issuer := f.issuer(f.tokenAuth())
			req, _ := request(t, issuer, tc.tmpl, tc.ttl)
			_, err := f.signer.Sign(context.Background(), req)
			signertest.ExpectPermanent(t, err, vault.ReasonErrorSigning, tc.want, "Issuer team-a/vault", signPath)
		})
	}
}

func TestATTLAboveTheRolesMaxIsShortenedAsVaultDoes(t *testing.T) {
	f := newFixture(t, vaulttest.Config{}, nil)
	issuer := f.issuer(f.tokenAuth())
	f.issue(issuer, webRequest(), 72*time.Hour, 48*time.Hour) // the role's max_ttl is 48h
}

func TestPermissionDeniedIsPermanentAfterOneFreshLogin(t *testing.T) {
	f := newFixture(t, vaulttest.Config{}, nil)
	roleID, secretID := f.server.AppRole("approle", "reader", vaulttest.Policy{"secret/*"})
	f.secret("approle", map[string][]byte{"secretId": []byte(secretID)})
	issuer := f.issuer(cmapi.VaultAuth{AppRole: &cmapi.VaultAppRole{Path: "approle", RoleId: roleID,
		SecretRef: cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: "approle"}, Key: "secretId"}}})
	err := f.signWeb(issuer)
	signertest.ExpectPermanent(t, err, vault.ReasonErrorSigning, "permission denied")
	expectNoSecret(t, err, secretID)
	if got := f.server.Logins(vaulttest.MethodAppRole); got != 2 {
		t.Errorf("%d logins, want 2: the refused token is replaced once before giving up", got)
	}
}

func TestARevokedTokenIsReplacedTransparently(t *testing.T) {
	f := newFixture(t, vaulttest.Config{}, nil)
	auth, _ := f.appRoleAuth()
	issuer := f.issuer(auth)
	for range 2 {
		f.issue(issuer, webRequest(), time.Hour, time.Hour)
		f.server.RevokeTokens(vaulttest.MethodAppRole)
	}
	if got := f.server.Logins(vaulttest.MethodAppRole); got != 2 {
		t.Errorf("%d logins, want 2", got)
	}
}

func TestLoginFailuresArePendingAndNameTheIssuerAndMethod(t *testing.T) {
	f := newFixture(t, vaulttest.Config{}, nil)
	roleID, _ := f.server.AppRole("approle", "signer", vaulttest.Policy{signPath})
	wrong := "not-the-secret-id"
	secret := f.secret("approle", map[string][]byte{"secretId": []byte(wrong)})
	issuer := f.issuer(cmapi.VaultAuth{AppRole: &cmapi.VaultAppRole{Path: "approle", RoleId: roleID,
		SecretRef: cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: "approle"}, Key: "secretId"}}})

	for range 3 {
		err := f.signWeb(issuer)
		signertest.ExpectPending(t, err, vault.ReasonErrorLogin, "Issuer team-a/vault", "AppRole", "invalid role or secret ID")
		expectNoSecret(t, err, wrong, roleID)
	}
	if got := f.server.Logins(vaulttest.MethodAppRole); got != 1 {
		t.Errorf("%d logins with a secret ID already refused, want 1", got)
	}

	// Fixing the Secret is a new credential, tried at once.
	_, right := f.server.AppRole("approle", "signer", vaulttest.Policy{signPath})
	secret.Data["secretId"] = []byte(right)
	if err := f.kube.Update(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	f.issue(issuer, webRequest(), time.Hour, time.Hour)
}

func TestAnInvalidTokenIsAPendingLoginError(t *testing.T) {
	f := newFixture(t, vaulttest.Config{}, nil)
	f.secret("vault-token", map[string][]byte{"token": []byte("hvs.revoked")})
	issuer := f.issuer(cmapi.VaultAuth{TokenSecretRef: &cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: "vault-token"}}})
	err := f.signWeb(issuer)
	signertest.ExpectPending(t, err, vault.ReasonErrorLogin, "token login", "permission denied")
	expectNoSecret(t, err, "hvs.revoked")
}

func TestKubernetesLoginFailures(t *testing.T) {
	f := newFixture(t, vaulttest.Config{}, nil)
	f.server.KubernetesAuth("kubernetes", "signer", vaulttest.KubernetesRole{
		BoundServiceAccountNames: []string{"someone-else"}, BoundServiceAccountNamespaces: []string{ns}, Policy: vaulttest.Policy{signPath}})
	auth := cmapi.VaultAuth{Kubernetes: &cmapi.VaultKubernetesAuth{Role: "signer", ServiceAccountRef: &cmapi.ServiceAccountRef{Name: "vault-auth"}}}
	issuer := f.issuer(auth)

	err := f.signWeb(issuer)
	signertest.ExpectPending(t, err, vault.ReasonErrorLogin, "Kubernetes login", "ServiceAccount team-a/vault-auth not found")

	f.create(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "vault-auth"}})
	issuer.Generation++ // a new key, so the held failure does not answer
	err = f.signWeb(issuer)
	signertest.ExpectPending(t, err, vault.ReasonErrorLogin, "Kubernetes login", "service account name not authorized")
	expectNoSecret(t, err, "fake-token")
}

func TestMissingSecretsArePending(t *testing.T) {
	ref := func(name string) *cmmeta.SecretKeySelector {
		return &cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: name}}
	}
	cases := []struct {
		name   string
		mutate func(*cmapi.VaultIssuer)
		want   string
	}{
		{name: "token", mutate: func(v *cmapi.VaultIssuer) { v.Auth = cmapi.VaultAuth{TokenSecretRef: ref("absent")} }, want: "spec.vault.auth.tokenSecretRef"},
		{name: "AppRole", mutate: func(v *cmapi.VaultIssuer) {
			v.Auth = cmapi.VaultAuth{AppRole: &cmapi.VaultAppRole{Path: "approle", RoleId: "r", SecretRef: cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: "absent"}, Key: "k"}}}
		}, want: "spec.vault.auth.appRole.secretRef"},
		{name: "Kubernetes", mutate: func(v *cmapi.VaultIssuer) {
			v.Auth = cmapi.VaultAuth{Kubernetes: &cmapi.VaultKubernetesAuth{Role: "r", SecretRef: *ref("absent")}}
		}, want: "spec.vault.auth.kubernetes.secretRef"},
		{name: "cert", mutate: func(v *cmapi.VaultIssuer) {
			v.Auth = cmapi.VaultAuth{ClientCertificate: &cmapi.VaultClientCertificateAuth{SecretName: "absent"}}
		}, want: "spec.vault.auth.clientCertificate.secretName"},
		{name: "CA bundle", mutate: func(v *cmapi.VaultIssuer) { v.CABundle, v.CABundleSecretRef = nil, ref("absent") }, want: "spec.vault.caBundleSecretRef"},
		{name: "mTLS certificate", mutate: func(v *cmapi.VaultIssuer) { v.ClientCertSecretRef, v.ClientKeySecretRef = ref("absent"), ref("absent") }, want: "spec.vault.clientCertSecretRef"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, vaulttest.Config{}, nil)
			issuer := f.issuer(f.tokenAuth())
			tc.mutate(issuer.Spec.Vault)
			err := f.signWeb(issuer)
			signertest.ExpectPending(t, err, signer.ReasonSecretMissing, "team-a/absent", tc.want)
		})
	}
}

func TestIssuerConfigurationProblemsArePending(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*cmapi.VaultIssuer)
		want   string
	}{
		{name: "no auth method", mutate: func(v *cmapi.VaultIssuer) { v.Auth = cmapi.VaultAuth{} }, want: "sets no auth method"},
		{name: "AWS auth", mutate: func(v *cmapi.VaultIssuer) { v.Auth = cmapi.VaultAuth{AWS: &cmapi.VaultAWSAuth{Role: "r"}} }, want: "aws is not supported"},
		{name: "a CA bundle without certificates", mutate: func(v *cmapi.VaultIssuer) { v.CABundle = []byte("nothing") }, want: "caBundle holds no PEM certificate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, vaulttest.Config{}, nil)
			issuer := f.issuer(f.tokenAuth())
			tc.mutate(issuer.Spec.Vault)
			err := f.signWeb(issuer)
			signertest.ExpectPending(t, err, vault.ReasonErrorVaultInit, tc.want)
		})
	}
}

func TestASealedVaultIsPending(t *testing.T) {
	f := newFixture(t, vaulttest.Config{}, nil)
	auth, _ := f.appRoleAuth()
	issuer := f.issuer(auth)
	f.server.Seal(true)
	err := f.signWeb(issuer)
	signertest.ExpectPending(t, err, vault.ReasonErrorVaultInit, "is sealed")
	if got := f.server.Logins(vaulttest.MethodAppRole); got != 0 {
		t.Errorf("%d logins to a sealed Vault, want 0", got)
	}
}

func TestACARequestIsRefusedBeforeVaultIsAsked(t *testing.T) {
	f := newFixture(t, vaulttest.Config{}, nil)
	issuer := f.issuer(f.tokenAuth())
	req, _ := request(t, issuer, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "ca.example.com"}}, time.Hour)
	req.IsCA = true
	_, err := f.signer.Sign(context.Background(), req)
	signertest.ExpectPermanent(t, err, vault.ReasonErrorSigning, "issues only end-entity certificates")
	if f.server.Signed() != 0 {
		t.Errorf("Vault issued %d certificates for a request that could not be used", f.server.Signed())
	}
}

func TestRolesThatTakeNamesFromTheParameters(t *testing.T) {
	f := newFixture(t, vaulttest.Config{}, nil)
	f.server.PKIRole(pkiMount, pkiRole, vaulttest.Role{AllowedDomains: []string{"example.com"}, AllowSubdomains: true, UseParameters: true, DenyIPSANs: true})
	issuer := f.issuer(f.tokenAuth())
	leaf := f.issue(issuer, webRequest(), time.Hour, time.Hour)
	// exclude_cn_from_sans: the common name is not added to the SANs.
	if leaf.Subject.CommonName != "web.example.com" || !slices.Equal(leaf.DNSNames, []string{"web.example.com", "api.example.com"}) {
		t.Errorf("got CN %q and DNS names %v", leaf.Subject.CommonName, leaf.DNSNames)
	}
	req, _ := request(t, issuer, &x509.CertificateRequest{DNSNames: []string{"a.example.com"}, IPAddresses: []net.IP{net.ParseIP("10.1.2.3")}}, time.Hour)
	_, err := f.signer.Sign(context.Background(), req)
	signertest.ExpectPermanent(t, err, vault.ReasonErrorSigning, "IP Subject Alternative Names are not allowed in this role")
}

func TestATokenIsReusedForMostOfItsTTL(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Now())
	f := newFixture(t, vaulttest.Config{}, clk)
	f.secret("vault-token", map[string][]byte{"token": []byte(f.server.TokenWithTTL(vaulttest.Policy{signPath}, time.Hour))})
	issuer := f.issuer(cmapi.VaultAuth{TokenSecretRef: &cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: "vault-token"}}})
	sign := func() {
		t.Helper()
		if err := f.signWeb(issuer); err != nil {
			t.Fatalf("Sign: %v", err)
		}
	}
	start := clk.Now()
	for _, step := range []struct {
		at      time.Duration
		lookups int
	}{{0, 1}, {30 * time.Minute, 1}, {54 * time.Minute, 1}, {56 * time.Minute, 2}} {
		clk.SetTime(start.Add(step.at))
		sign()
		if got := f.server.Logins(vaulttest.MethodToken); got != step.lookups {
			t.Errorf("after %s: %d lookups of the token, want %d", step.at, got, step.lookups)
		}
	}
}
