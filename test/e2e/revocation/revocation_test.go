// Package revocation shows that reusing reference checks never outlives a revocation: the signing
// controller reuses an allowed SubjectAccessReview for a namespaced Issuer for a short time, and a
// RoleBinding deleted in between must stop signing for its requester at once.
//
// The policy controller runs in a manager of its own, stopped once the policy is in force, as in a
// split install (config/split): otherwise it would put back the generated RoleBinding the test
// revokes, since it reverts drift.
package revocation

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/controllers"
	"github.com/signerpolicy/signer-policy-operator/internal/rbac"
	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/ca"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

const clusterResourceNamespace = "signer-policy-system"

var env *harness.Env

func TestMain(m *testing.M) {
	os.Exit(harness.ControlPlaneMain(m, &env, clusterResourceNamespace))
}

// options wires the operator as main.go does, with the CA signer only, running the controllers
// given; the reference check reuse is main.go's default.
func options(run ...string) controllers.Options {
	return controllers.Options{
		Signers: func(mgr ctrl.Manager) (*signer.Registry, error) {
			return signer.NewRegistry(signer.Entry{Type: signer.TypeCA, Signer: ca.New(mgr.GetAPIReader())})
		},
		ClusterResourceNamespace: clusterResourceNamespace,
		Concurrency:              4,
		Controllers:              run,
		AuditLog:                 (&harness.AuditSink{}).Logger(),
	}
}

// reviewCounter counts the SubjectAccessReviews a client sends.
type reviewCounter struct {
	next http.RoundTripper
	n    *atomic.Int64
}

func (c reviewCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/subjectaccessreviews") {
		c.n.Add(1)
	}
	return c.next.RoundTrip(req)
}

// TestRevokedRoleBindingStopsSigningDespiteReusedReviews grants a requester `reference` on a CA
// Issuer through the RoleBinding its policy generates, signs CSRs until one is signed without a
// SubjectAccessReview (an allowance is being reused), deletes that RoleBinding, and submits the
// next CSR at once, well within the reuse TTL: it must fail DeniedReference, after a review asked
// afresh.
func TestRevokedRoleBindingStopsSigningDespiteReusedReviews(t *testing.T) {
	ctx := context.Background()
	operator, err := env.OperatorConfig()
	if err != nil {
		t.Fatal(err)
	}
	stopPolicyOnce, err := env.RunManager(operator, options(controllers.ControllerPolicy), metricsserver.Options{BindAddress: "0"})
	if err != nil {
		t.Fatal(err)
	}
	stopPolicy := sync.OnceValue(stopPolicyOnce) // a stop function may be called only once
	defer func() { _ = stopPolicy() }()
	var reviews atomic.Int64
	signing := rest.CopyConfig(operator)
	signing.Wrap(func(rt http.RoundTripper) http.RoundTripper { return reviewCounter{next: rt, n: &reviews} })
	stopSigning, err := env.RunManager(signing, options(controllers.ControllerApproval, controllers.ControllerSigning), metricsserver.Options{BindAddress: "0"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = stopSigning() }()

	ns := env.Namespace(t)
	root := testpki.NewRootCA(t, testpki.ECDSA, "revocation CA "+ns)
	ref := policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindIssuer, Namespace: ns, Name: "ca"}
	env.Create(t, root.Secret(ns, "ca"))
	env.Create(t, &cmapi.Issuer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ca"},
		Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: "ca"}}}})
	user := "requester-" + ns
	policy := &policyv1alpha1.SignerPolicy{ObjectMeta: metav1.ObjectMeta{Name: "revocation-" + ns}, Spec: policyv1alpha1.SignerPolicySpec{
		IssuerRef:  &ref,
		Requesters: policyv1alpha1.Subjects{Users: []string{user}},
		Allowed:    policyv1alpha1.Allowed{DNSNames: []string{"*.example.com"}},
	}}
	env.GovernWithPolicy(t, policy)
	// From here nothing puts the generated RBAC back.
	if err := stopPolicy(); err != nil {
		t.Fatalf("stopping the policy controller: %v", err)
	}
	requester := env.User(t, user)
	submit := func() *certificatesv1.CertificateSigningRequest {
		request := testpki.RequestPEM(t, testpki.NewKey(t, testpki.ECDSA), &x509.CertificateRequest{DNSNames: []string{"web.example.com"}})
		return env.SubmitCSR(t, requester, harness.CSR{SignerName: ref.SignerName(), Request: request})
	}

	// The RBAC the policy just generated keeps answers from being kept for a moment (they may
	// predate it at the API server's authorizer); then one is, and the next CSR reuses it.
	// lastAsked is no later than when the reused answer was asked, and so at most a TTL before it
	// expires.
	var lastAsked time.Time
	harness.Eventually(t, 30*time.Second, func() error {
		before, submitted := reviews.Load(), time.Now()
		c := submit()
		env.WaitForCSR(t, c.Name, 30*time.Second, harness.Issued)
		if asked := reviews.Load() - before; asked != 0 {
			lastAsked = submitted
			return fmt.Errorf("CSR %s was signed after %d reviews, not from a reused one", c.Name, asked)
		}
		return nil
	})
	if lastAsked.IsZero() {
		t.Fatal("no CSR was signed after a review, so none could be reused")
	}

	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: rbac.ReferenceRoleName(policy)}}
	if err := env.Admin.Delete(ctx, binding); err != nil {
		t.Fatalf("revoking the requester's reference: %v", err)
	}
	before := reviews.Load()
	c := submit()
	got := env.WaitForCSR(t, c.Name, 30*time.Second, harness.FailedWith("DeniedReference"))
	if len(got.Status.Certificate) > 0 {
		t.Fatal("the CSR after the revocation carries a certificate")
	}
	if reviews.Load() == before {
		t.Error("the CSR after the revocation was refused without a review")
	}
	// Had the refusal come after the reused answer expired anyway, it would show nothing about
	// the watch.
	if since := time.Since(lastAsked); since >= controllers.DefaultReferenceReviewTTL {
		t.Errorf("the refusal came %s after the reused answer was asked, past the reuse TTL of %s", since, controllers.DefaultReferenceReviewTTL)
	}
}
