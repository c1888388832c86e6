//go:build !unit

package install

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

// warnings records the warnings the API server sends back, as kubectl prints them.
type warnings struct {
	mu   sync.Mutex
	seen []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen = append(w.seen, text)
}

func (w *warnings) take() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	all := strings.Join(w.seen, "\n")
	w.seen = nil
	return all
}

func warnedPolicy(mutate func(*policyv1alpha1.SignerPolicy)) *policyv1alpha1.SignerPolicy {
	p := &policyv1alpha1.SignerPolicy{ObjectMeta: metav1.ObjectMeta{GenerateName: "warned-"}, Spec: policyv1alpha1.SignerPolicySpec{
		IssuerRef:  &policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindClusterIssuer, Name: "root"},
		Requesters: policyv1alpha1.Subjects{Users: []string{"alice"}},
		Allowed:    policyv1alpha1.Allowed{DNSNames: []string{"*.team-a.example.com"}},
	}}
	if mutate != nil {
		mutate(p)
	}
	return p
}

// config/warnings makes `kubectl apply` warn about valid but risky policies, naming the policy and
// the field, and still stores them; a plain policy gets no warning.
func TestRiskyPoliciesAreWarnedAboutAtApplyTime(t *testing.T) {
	ctx := context.Background()
	objs := render(t, "warnings")
	if err := harness.Apply(ctx, env.Admin, objs); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, o := range objs {
			_ = env.Admin.Delete(ctx, o)
		}
	})
	rec := &warnings{}
	cfg := rest.CopyConfig(env.Config)
	cfg.WarningHandler = rec
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	create := func(t *testing.T, p *policyv1alpha1.SignerPolicy) string {
		t.Helper()
		if err := c.Create(ctx, p); err != nil {
			t.Fatalf("the policy was refused; warnings must never refuse: %v", err)
		}
		t.Cleanup(func() { _ = env.Admin.Delete(ctx, p) })
		return rec.take()
	}
	manualNobody := func(p *policyv1alpha1.SignerPolicy) { p.Spec.Approval.Mode = policyv1alpha1.ApprovalManual }
	// The admission policy takes effect once the API server has compiled it.
	harness.Eventually(t, 20*time.Second, func() error {
		if got := create(t, warnedPolicy(manualNobody)); !strings.Contains(got, "spec.approval.approvers names nobody") {
			return fmt.Errorf("no warning yet (got %q)", got)
		}
		return nil
	})

	for _, tt := range []struct {
		name   string
		mutate func(*policyv1alpha1.SignerPolicy)
		want   string // empty: no warning at all
	}{
		{"a plain policy", nil, ""},
		{"Manual with approvers", func(p *policyv1alpha1.SignerPolicy) {
			p.Spec.Approval = policyv1alpha1.Approval{Mode: policyv1alpha1.ApprovalManual, Approvers: &policyv1alpha1.Subjects{Groups: []string{"security"}}}
			p.Spec.AllowCA = true
		}, ""},
		{"Manual naming nobody", manualNobody, "spec.approval.approvers names nobody"},
		{"a whole top-level domain", func(p *policyv1alpha1.SignerPolicy) { p.Spec.Allowed.DNSNames = []string{"web.example.com", "*.com"} },
			"spec.allowed.dnsNames holds *.com"},
		{"any name at all", func(p *policyv1alpha1.SignerPolicy) { p.Spec.Allowed.DNSNames = []string{"*"} }, "spec.allowed.dnsNames holds *,"},
		{"every authenticated user", func(p *policyv1alpha1.SignerPolicy) {
			p.Spec.Requesters.Groups = []string{"team-a", "system:authenticated"}
		},
			"spec.requesters.groups holds system:authenticated"},
		{"tenants' service accounts across tenants' Issuers, with no rule tying them", func(p *policyv1alpha1.SignerPolicy) {
			p.Spec.IssuerRef, p.Spec.Issuers = nil, &policyv1alpha1.IssuerSelector{Kind: "Issuer", Names: []string{"ca"}, Namespaces: []string{"*"}}
			p.Spec.Requesters.ServiceAccountSelectors = []policyv1alpha1.ServiceAccountSelector{{
				NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{"tenant": "true"}}}}
		}, "may use another's Issuers"},
		{"the same, tied by a rule", func(p *policyv1alpha1.SignerPolicy) {
			p.Spec.IssuerRef, p.Spec.Issuers = nil, &policyv1alpha1.IssuerSelector{Kind: "Issuer", Names: []string{"ca"}, Namespaces: []string{"*"}}
			p.Spec.Requesters.ServiceAccountSelectors = []policyv1alpha1.ServiceAccountSelector{{
				NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{"tenant": "true"}}}}
			p.Spec.Validations = []policyv1alpha1.Validation{{Rule: "issuer.namespace == requester.serviceAccount.namespace"}}
		}, ""},
		{"API server client certificates in any user's name", func(p *policyv1alpha1.SignerPolicy) {
			p.Spec.IssuerRef, p.Spec.SignerNames = nil, []string{"kubernetes.io/kube-apiserver-client"}
			p.Spec.Allowed = policyv1alpha1.Allowed{CommonName: []string{"*"}}
		}, "spec.allowed.commonName holds * for kubernetes.io/kube-apiserver-client"},
		{"API server client certificates in the requester's own name", func(p *policyv1alpha1.SignerPolicy) {
			p.Spec.IssuerRef, p.Spec.SignerNames = nil, []string{"kubernetes.io/kube-apiserver-client"}
			p.Spec.Allowed = policyv1alpha1.Allowed{CommonName: []string{"$(requester.username)"}}
		}, ""},
		{"CA certificates without a person", func(p *policyv1alpha1.SignerPolicy) { p.Spec.AllowCA = true }, "spec.allowCA under Automatic approval"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := warnedPolicy(tt.mutate)
			got := create(t, p)
			switch {
			case tt.want == "" && got != "":
				t.Errorf("warned %q, want no warning", got)
			case tt.want != "" && (!strings.Contains(got, tt.want) || !strings.Contains(got, "SignerPolicy "+p.Name)):
				t.Errorf("warned %q, want a warning naming %s and saying %q", got, p.Name, tt.want)
			}
		})
	}
}
