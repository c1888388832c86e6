//go:build !unit

package v1alpha1_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

func validNamespacedPolicy(t *testing.T) *policyv1alpha1.NamespacedSignerPolicy {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "nsp-"}}
	if err := env.Admin.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Admin.Delete(context.Background(), ns) })
	return &policyv1alpha1.NamespacedSignerPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, GenerateName: "v-"},
		Spec: policyv1alpha1.NamespacedSignerPolicySpec{
			IssuerRef:  &policyv1alpha1.LocalIssuerReference{Name: "ca"},
			Requesters: policyv1alpha1.Subjects{ServiceAccounts: []policyv1alpha1.ServiceAccountReference{{Namespace: ns.Name, Name: "web"}}},
			Allowed:    policyv1alpha1.Allowed{DNSNames: []string{"web.$(issuer.namespace).svc"}},
		},
	}
}

func TestValidNamespacedPolicyIsAcceptedWithDefaults(t *testing.T) {
	p := validNamespacedPolicy(t)
	if err := env.Admin.Create(context.Background(), p); err != nil {
		t.Fatalf("valid namespaced policy refused: %v", err)
	}
	if p.Spec.Approval.Mode != policyv1alpha1.ApprovalAutomatic {
		t.Errorf("spec.approval.mode = %q, want the default Automatic", p.Spec.Approval.Mode)
	}
}

// A namespaced policy names no system: identity, selects no service accounts across namespaces,
// and governs exactly one of an Issuer or a name pattern of Issuers.
func TestInvalidNamespacedPoliciesAreRefusedNamingTheField(t *testing.T) {
	tests := []struct {
		name      string
		mutate    func(*policyv1alpha1.NamespacedSignerPolicy)
		wantField string
		wantText  string
	}{
		{"system: group", func(p *policyv1alpha1.NamespacedSignerPolicy) { p.Spec.Requesters.Groups = []string{"system:masters"} },
			"spec.requesters.groups", "may not name system: groups"},
		{"another namespace's service accounts by group", func(p *policyv1alpha1.NamespacedSignerPolicy) {
			p.Spec.Requesters.Groups = []string{"system:serviceaccounts:kube-system"}
		}, "spec.requesters.groups", "may not name system: groups"},
		{"system: user", func(p *policyv1alpha1.NamespacedSignerPolicy) {
			p.Spec.Requesters.Users = []string{"system:serviceaccount:kube-system:default"}
		}, "spec.requesters.users", "may not name system: users"},
		{"system: approver", func(p *policyv1alpha1.NamespacedSignerPolicy) {
			p.Spec.Approval.Approvers = &policyv1alpha1.Subjects{Groups: []string{"system:authenticated"}}
		}, "spec.approval.approvers.groups", "may not name system: groups as approvers"},
		{"service account selector", func(p *policyv1alpha1.NamespacedSignerPolicy) {
			p.Spec.Requesters.ServiceAccountSelectors = []policyv1alpha1.ServiceAccountSelector{{
				NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}}}}
		}, "spec.requesters.serviceAccountSelectors", "a selector would reach other namespaces"},
		{"both issuerRef and issuers", func(p *policyv1alpha1.NamespacedSignerPolicy) {
			p.Spec.Issuers = &policyv1alpha1.LocalIssuerSelector{Names: []string{"*"}}
		}, "spec", "must name exactly one of issuerRef"},
		{"no requesters", func(p *policyv1alpha1.NamespacedSignerPolicy) { p.Spec.Requesters = policyv1alpha1.Subjects{} },
			"spec.requesters", "must name at least one"},
		{"unknown placeholder", func(p *policyv1alpha1.NamespacedSignerPolicy) {
			p.Spec.Allowed.DNSNames = []string{"web.$(issuer.name).svc"}
		}, "spec.allowed.dnsNames[0]", "$(issuer.namespace)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validNamespacedPolicy(t)
			tt.mutate(p)
			err := env.Admin.Create(context.Background(), p)
			if err == nil {
				t.Fatalf("the API server accepted the policy; want it refused naming %s", tt.wantField)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.wantField) || !strings.Contains(msg, tt.wantText) {
				t.Errorf("refusal %q does not name %s with %q", msg, tt.wantField, tt.wantText)
			}
		})
	}
}

// A delegating SignerPolicy governs Issuers only and may name no requesters of its own; without a
// delegation, requesters stay required.
func TestDelegationIsForIssuersOnly(t *testing.T) {
	p := validPolicy()
	p.Spec.Requesters = policyv1alpha1.Subjects{}
	p.Spec.Delegation = &policyv1alpha1.Delegation{}
	if err := create(t, p); err != nil {
		t.Fatalf("a delegating policy without requesters refused: %v", err)
	}
	if modes := p.Spec.Delegation.ApprovalModes; len(modes) != 2 {
		t.Errorf("spec.delegation.approvalModes = %v, want the default Automatic and Manual", modes)
	}

	p = validPolicy()
	p.Spec.IssuerRef = &policyv1alpha1.IssuerReference{Kind: "ClusterIssuer", Name: "root"}
	p.Spec.Delegation = &policyv1alpha1.Delegation{}
	if err := create(t, p); err == nil || !strings.Contains(err.Error(), "spec.delegation") || !strings.Contains(err.Error(), "only a policy governing Issuers may delegate") {
		t.Errorf("delegating a ClusterIssuer: %v, want refused naming spec.delegation", err)
	}

	p = validPolicy()
	p.Spec.Requesters = policyv1alpha1.Subjects{}
	if err := create(t, p); err == nil || !strings.Contains(err.Error(), "spec.requesters") {
		t.Errorf("no requesters and no delegation: %v, want refused naming spec.requesters", err)
	}
}
