package acme

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	cmacme "github.com/cert-manager/cert-manager/pkg/apis/acme/v1"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/go-logr/logr"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/signertest"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

const clusterResources = "cluster-resources"

// challengeFixture is a cluster with an ACME Issuer, an ACME ClusterIssuer and a CA Issuer, their
// account keys, and a challenge server over it.
type challengeFixture struct {
	kube   client.Client
	signer *Signer
	issuer *cmapi.Issuer
	ca     *cmapi.Issuer
	// cluster is the ACME ClusterIssuer.
	cluster *cmapi.ClusterIssuer
}

func newChallengeFixture(t *testing.T) *challengeFixture {
	t.Helper()
	clusterKey := accountSecret(t, testpki.KeyPEM(t, testpki.NewKey(t, testpki.RSA)))
	clusterKey.Namespace = clusterResources
	f := &challengeFixture{
		issuer:  acmeIssuer(nil),
		ca:      &cmapi.Issuer{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: "ca"}, Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: "account"}}}},
		cluster: &cmapi.ClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: "cle"}, Spec: acmeIssuer(nil).Spec},
	}
	f.kube = fake.NewClientBuilder().WithScheme(signertest.Scheme(t)).
		WithIndex(&certificatesv1.CertificateSigningRequest{}, HTTP01TokenIndex, IndexHTTP01Tokens).
		WithObjects(f.issuer, f.ca, f.cluster, clusterKey, accountSecret(t, testpki.KeyPEM(t, testpki.NewKey(t, testpki.ECDSA)))).Build()
	f.signer = NewSigner(Options{Client: f.kube, Secrets: f.kube, ClusterResourceNamespace: clusterResources})
	return f
}

// csr creates a CSR for signerName holding annotation as its challenges; approved unless a
// condition type says otherwise.
func (f *challengeFixture) csr(t *testing.T, name, signerName string, annotation func(*certificatesv1.CertificateSigningRequest) string, conditions ...certificatesv1.RequestConditionType) {
	t.Helper()
	if len(conditions) == 0 {
		conditions = []certificatesv1.RequestConditionType{certificatesv1.CertificateApproved}
	}
	c := &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name)},
		Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: signerName}}
	for _, typ := range conditions {
		if typ != "" {
			c.Status.Conditions = append(c.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{Type: typ, Status: corev1.ConditionTrue})
		}
	}
	c.Annotations = map[string]string{ChallengesAnnotation: annotation(c)}
	if err := f.kube.Create(context.Background(), c); err != nil {
		t.Fatal(err)
	}
}

// sealed seals records as the operator does for the CSR and issuer.
func (f *challengeFixture) sealed(t *testing.T, issuer cmapi.GenericIssuer, namespace string, records ...challengeRecord) func(*certificatesv1.CertificateSigningRequest) string {
	return func(c *certificatesv1.CertificateSigningRequest) string {
		seal, ok, err := f.signer.sealerFor(context.Background(), c, issuer, namespace)
		if err != nil || !ok {
			t.Fatalf("sealer: %v, %v", ok, err)
		}
		value, err := seal.challenges(records)
		if err != nil {
			t.Fatal(err)
		}
		return value
	}
}

func (f *challengeFixture) thumbprint(t *testing.T, issuer cmapi.GenericIssuer, namespace string) string {
	t.Helper()
	seal, ok, err := f.signer.sealerFor(context.Background(), &certificatesv1.CertificateSigningRequest{}, issuer, namespace)
	if err != nil || !ok {
		t.Fatalf("sealer: %v, %v", ok, err)
	}
	return seal.keys.thumbprint
}

func literal(value string) func(*certificatesv1.CertificateSigningRequest) string {
	return func(*certificatesv1.CertificateSigningRequest) string { return value }
}

func get(srv *ChallengeServer, method, path string) (int, string) {
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(method, "http://x.example.com"+path, nil))
	body, _ := io.ReadAll(rec.Body)
	return rec.Code, string(body)
}

// The challenge server answers only for records the operator sealed, on approved CSRs addressed
// to an ACME issuer, and answers with the issuer's account's key authorization, never with one an
// annotation holds. A planted record, whatever key authorization it names, is a 404.
func TestChallengeServerAnswersOnlyForTheOperatorsOwnOrders(t *testing.T) {
	f := newChallengeFixture(t)
	issuerSigner := "issuers.cert-manager.io/" + testNamespace + ".le"
	clusterSigner := "clusterissuers.cert-manager.io/cle"
	http01 := func(token string) challengeRecord {
		return challengeRecord{Type: "http-01", Identifier: "web.example.com", Token: token}
	}
	f.csr(t, "mine", issuerSigner, f.sealed(t, f.issuer, testNamespace, http01("tokMine"),
		challengeRecord{Type: "dns-01", Identifier: "web.example.com", Token: "tokDNS"}))
	f.csr(t, "cluster", clusterSigner, f.sealed(t, f.cluster, clusterResources, http01("tokCluster")))
	// What a requester can write when creating a CSR: a plain record with their own key
	// authorization, or a sealed-looking one with a made-up MAC.
	f.csr(t, "planted", issuerSigner, literal(`[{"type":"http-01","identifier":"victim.bank.example","token":"tokPlanted","keyAuthorization":"tokPlanted.attacker"}]`))
	f.csr(t, "forged", issuerSigner, literal(`{"records":[{"type":"http-01","identifier":"victim.bank.example","token":"tokForged"}],"mac":"AAAA"}`))
	// Sealed records that still must not be answered.
	f.csr(t, "copied", issuerSigner, func(*certificatesv1.CertificateSigningRequest) string {
		other := &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{UID: "another-csr"}, Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: issuerSigner}}
		return f.sealed(t, f.issuer, testNamespace, http01("tokCopied"))(other)
	})
	f.csr(t, "other-issuer", clusterSigner, f.sealed(t, f.issuer, testNamespace, http01("tokOtherIssuer")))
	f.csr(t, "unapproved", issuerSigner, f.sealed(t, f.issuer, testNamespace, http01("tokUnapproved")), "")
	f.csr(t, "failed", issuerSigner, f.sealed(t, f.issuer, testNamespace, http01("tokFailed")), certificatesv1.CertificateApproved, certificatesv1.CertificateFailed)
	f.csr(t, "denied", issuerSigner, f.sealed(t, f.issuer, testNamespace, http01("tokDenied")), certificatesv1.CertificateDenied)
	f.csr(t, "ca", "issuers.cert-manager.io/"+testNamespace+".ca", f.sealed(t, f.issuer, testNamespace, http01("tokCA")))
	f.csr(t, "no-issuer", "issuers.cert-manager.io/"+testNamespace+".gone", f.sealed(t, f.issuer, testNamespace, http01("tokGone")))
	f.csr(t, "junk", issuerSigner, literal("{"))

	srv := f.signer.NewChallengeServer("", f.kube, logr.Discard())
	tests := []struct {
		method, path string
		status       int
		body         string
	}{
		{http.MethodGet, "/.well-known/acme-challenge/tokMine", http.StatusOK, "tokMine." + f.thumbprint(t, f.issuer, testNamespace)},
		{http.MethodGet, "/.well-known/acme-challenge/tokCluster", http.StatusOK, "tokCluster." + f.thumbprint(t, f.cluster, clusterResources)},
		{http.MethodHead, "/.well-known/acme-challenge/tokMine", http.StatusOK, ""},
		{http.MethodGet, "/.well-known/acme-challenge/tokDNS", http.StatusNotFound, ""}, // a DNS-01 token is not served
		{http.MethodGet, "/.well-known/acme-challenge/tokPlanted", http.StatusNotFound, ""},
		{http.MethodGet, "/.well-known/acme-challenge/tokForged", http.StatusNotFound, ""},
		{http.MethodGet, "/.well-known/acme-challenge/tokCopied", http.StatusNotFound, ""},
		{http.MethodGet, "/.well-known/acme-challenge/tokOtherIssuer", http.StatusNotFound, ""},
		{http.MethodGet, "/.well-known/acme-challenge/tokUnapproved", http.StatusNotFound, ""},
		{http.MethodGet, "/.well-known/acme-challenge/tokFailed", http.StatusNotFound, ""},
		{http.MethodGet, "/.well-known/acme-challenge/tokDenied", http.StatusNotFound, ""},
		{http.MethodGet, "/.well-known/acme-challenge/tokCA", http.StatusNotFound, ""},
		{http.MethodGet, "/.well-known/acme-challenge/tokGone", http.StatusNotFound, ""},
		{http.MethodGet, "/.well-known/acme-challenge/unknown", http.StatusNotFound, ""},
		{http.MethodGet, "/.well-known/acme-challenge/bad.token", http.StatusNotFound, ""},
		{http.MethodGet, "/other/tokMine", http.StatusNotFound, ""},
		{http.MethodPost, "/.well-known/acme-challenge/tokMine", http.StatusMethodNotAllowed, ""},
	}
	for _, tc := range tests {
		code, body := get(srv, tc.method, tc.path)
		if code != tc.status || (tc.body != "" && body != tc.body) {
			t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.path, code, body, tc.status, tc.body)
		}
	}
	if srv.NeedLeaderElection() {
		t.Error("the challenge server must run in every replica")
	}

	// Without the namespace of ClusterIssuers' Secrets nothing is answered for them, and the
	// lookup reports why.
	f.signer.clusterResourceNamespace = ""
	if code, _ := get(srv, http.MethodGet, "/.well-known/acme-challenge/tokCluster"); code != http.StatusServiceUnavailable {
		t.Errorf("a ClusterIssuer's challenge without the cluster resource namespace: %d, want 503", code)
	}
}

func TestChallengeServerStartsAndStops(t *testing.T) {
	s := NewSigner(Options{Client: fake.NewClientBuilder().Build(), Secrets: fake.NewClientBuilder().Build()})
	srv := s.NewChallengeServer("127.0.0.1:0", fake.NewClientBuilder().Build(), logr.Discard())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Start(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Start returned %v after its context ended", err)
	}
}

func TestHTTP01Solvers(t *testing.T) {
	svc := types.NamespacedName{Namespace: "operator", Name: "acme-http01"}
	s := NewSigner(Options{Client: fake.NewClientBuilder().Build(), Secrets: fake.NewClientBuilder().Build(), HTTP01Service: svc})
	req := signer.Request{CSR: &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "csr-1"}}}
	for name, cfg := range map[string]*cmacme.ACMEChallengeSolverHTTP01{
		"gateway":          {GatewayHTTPRoute: &cmacme.ACMEChallengeSolverHTTP01GatewayHTTPRoute{}},
		"existing ingress": {Ingress: &cmacme.ACMEChallengeSolverHTTP01Ingress{Name: "web"}},
	} {
		if _, err := s.http01Solver(cfg, req); !isPermanent(err, ReasonUnsupportedSolver) {
			t.Errorf("%s: %v, want UnsupportedSolver", name, err)
		}
	}
	noService := NewSigner(Options{Client: fake.NewClientBuilder().Build(), Secrets: fake.NewClientBuilder().Build()})
	if _, err := noService.http01Solver(&cmacme.ACMEChallengeSolverHTTP01{Ingress: &cmacme.ACMEChallengeSolverHTTP01Ingress{}}, req); !isPermanent(err, ReasonUnsupportedSolver) {
		t.Errorf("ingress without a challenge Service: %v", err)
	}
}

func isPermanent(err error, reason string) bool {
	pe, ok := signer.AsPermanent(err)
	return ok && pe.Reason == reason
}

func TestChallengeIngressLifecycle(t *testing.T) {
	c := fake.NewClientBuilder().Build()
	svc := types.NamespacedName{Namespace: "operator", Name: "acme-http01"}
	sol := &http01Solver{client: c, service: svc, port: 8089, csrName: "csr-1", ingress: &cmacme.ACMEChallengeSolverHTTP01Ingress{
		Class: ptr.To("traefik"), IngressClassName: ptr.To("nginx"),
		IngressTemplate: &cmacme.ACMEChallengeSolverHTTP01IngressTemplate{ACMEChallengeSolverHTTP01IngressObjectMeta: cmacme.ACMEChallengeSolverHTTP01IngressObjectMeta{
			Labels: map[string]string{"team": "a"}, Annotations: map[string]string{"note": "x"},
		}},
	}}
	rec := challengeRecord{Type: "http-01", Identifier: "a.example.com", Token: "tok"}
	ctx := context.Background()
	for range 2 { // presenting again after a restart is harmless
		if err := sol.present(ctx, rec, "tok.thumbprint"); err != nil {
			t.Fatal(err)
		}
	}
	var ing networkingv1.Ingress
	if err := c.Get(ctx, client.ObjectKey{Namespace: "operator", Name: ingressName("tok")}, &ing); err != nil {
		t.Fatal(err)
	}
	rule := ing.Spec.Rules[0]
	path := rule.HTTP.Paths[0]
	if rule.Host != "a.example.com" || path.Path != "/.well-known/acme-challenge/tok" || *path.PathType != networkingv1.PathTypeExact ||
		path.Backend.Service.Name != "acme-http01" || path.Backend.Service.Port.Number != 8089 ||
		*ing.Spec.IngressClassName != "nginx" || ing.Annotations[ingressClassAnnotation] != "traefik" ||
		ing.Labels["team"] != "a" || ing.Labels[HTTP01SolverLabel] != "true" || ing.Annotations["note"] != "x" || ing.Annotations[HTTP01CSRAnnotation] != "csr-1" {
		t.Errorf("Ingress %+v", ing)
	}
	ipIng := sol.challengeIngress(challengeRecord{Type: "http-01", Identifier: "10.0.0.1", Token: "tok2"})
	if ipIng.Spec.Rules[0].Host != "" {
		t.Errorf("an IP identifier got host %q", ipIng.Spec.Rules[0].Host)
	}
	for range 2 { // cleaning up twice is harmless too
		if err := sol.cleanUp(ctx, rec, "tok.thumbprint"); err != nil {
			t.Fatal(err)
		}
	}
	var list networkingv1.IngressList
	if err := c.List(ctx, &list); err != nil || len(list.Items) != 0 {
		t.Errorf("Ingresses left: %d, %v", len(list.Items), err)
	}
}
