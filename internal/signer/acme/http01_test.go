package acme

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	cmacme "github.com/cert-manager/cert-manager/pkg/apis/acme/v1"
	"github.com/go-logr/logr"
	certificatesv1 "k8s.io/api/certificates/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

func csrWithChallenges(t *testing.T, name string, recs ...challengeRecord) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	value, err := encodeChallenges(recs)
	if err != nil {
		t.Fatal(err)
	}
	return &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{ChallengesAnnotation: value}}}
}

func TestChallengeServerAnswersFromCSRAnnotations(t *testing.T) {
	csrs := fake.NewClientBuilder().
		WithIndex(&certificatesv1.CertificateSigningRequest{}, HTTP01TokenIndex, IndexHTTP01Tokens).
		WithObjects(
			csrWithChallenges(t, "a", challengeRecord{Type: "http-01", Token: "tokA_-1", KeyAuth: "tokA_-1.thumb"},
				challengeRecord{Type: "dns-01", Token: "tokDNS", KeyAuth: "tokDNS.thumb"}),
			csrWithChallenges(t, "b", challengeRecord{Type: "http-01", Token: "tokB", KeyAuth: "tokB.thumb"}),
			&certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "junk", Annotations: map[string]string{ChallengesAnnotation: "{"}}},
		).Build()
	srv := NewChallengeServer("", csrs, logr.Discard())
	tests := []struct {
		method, path string
		status       int
		body         string
	}{
		{http.MethodGet, "/.well-known/acme-challenge/tokA_-1", http.StatusOK, "tokA_-1.thumb"},
		{http.MethodGet, "/.well-known/acme-challenge/tokB", http.StatusOK, "tokB.thumb"},
		{http.MethodHead, "/.well-known/acme-challenge/tokB", http.StatusOK, ""},
		{http.MethodGet, "/.well-known/acme-challenge/tokDNS", http.StatusNotFound, ""}, // a DNS-01 token is not served
		{http.MethodGet, "/.well-known/acme-challenge/unknown", http.StatusNotFound, ""},
		{http.MethodGet, "/.well-known/acme-challenge/bad.token", http.StatusNotFound, ""},
		{http.MethodGet, "/other/tokB", http.StatusNotFound, ""},
		{http.MethodPost, "/.well-known/acme-challenge/tokB", http.StatusMethodNotAllowed, ""},
	}
	for _, tc := range tests {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(tc.method, "http://x.example.com"+tc.path, nil))
		body, _ := io.ReadAll(rec.Body)
		if rec.Code != tc.status || (tc.body != "" && string(body) != tc.body) {
			t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.path, rec.Code, body, tc.status, tc.body)
		}
	}
	if srv.NeedLeaderElection() {
		t.Error("the challenge server must run in every replica")
	}
}

func TestChallengeServerStartsAndStops(t *testing.T) {
	srv := NewChallengeServer("127.0.0.1:0", fake.NewClientBuilder().Build(), logr.Discard())
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
		if err := sol.present(ctx, rec); err != nil {
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
		if err := sol.cleanUp(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	var list networkingv1.IngressList
	if err := c.List(ctx, &list); err != nil || len(list.Items) != 0 {
		t.Errorf("Ingresses left: %d, %v", len(list.Items), err)
	}
}
