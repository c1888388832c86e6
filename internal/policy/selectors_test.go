package policy

import (
	"crypto/x509"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

func TestServiceAccountSelectors(t *testing.T) {
	e := newTestEvaluator(t)
	p := basePolicy("selected")
	p.Spec.Requesters = v1alpha1.Subjects{ServiceAccountSelectors: []v1alpha1.ServiceAccountSelector{{
		NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}},
		Names:             []string{"web", "api-*"},
	}}}
	p.Spec.Allowed = v1alpha1.Allowed{DNSNames: []string{"*.*.svc"}}
	teamA := map[string]string{"team": "a", "kubernetes.io/metadata.name": "shop"}
	tests := []struct {
		name     string
		username string
		labels   map[string]string
		want     Result
	}{
		{"a named service account of a selected namespace", "system:serviceaccount:shop:web", teamA, Approve},
		{"a name matching a pattern", "system:serviceaccount:shop:api-orders", teamA, Approve},
		{"a name matching no pattern", "system:serviceaccount:shop:db", teamA, Deny},
		{"* spans dots", "system:serviceaccount:shop:api-orders.v2", teamA, Approve},
		{"a pattern matches the whole name", "system:serviceaccount:shop:xapi-orders", teamA, Deny},
		{"a namespace with other labels", "system:serviceaccount:shop:web", map[string]string{"team": "b"}, Deny},
		{"a namespace the caller could not find", "system:serviceaccount:shop:web", nil, Deny},
		{"a person, whatever the labels say", "web", teamA, Deny},
		{"a username only shaped like a service account's", "system:serviceaccount:shop:web:x", teamA, Deny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := baseRequest(t, &x509.CertificateRequest{DNSNames: []string{"web.shop.svc"}})
			req.Requester = Requester{Username: tt.username}
			req.ServiceAccountNamespaceLabels = tt.labels
			d := e.Evaluate(Policies{Cluster: []v1alpha1.SignerPolicy{p}}, req)
			if d.Result != tt.want {
				t.Fatalf("%s: %s, want %s", tt.username, d.Message(), tt.want)
			}
			if tt.want == Deny {
				assertFields(t, d.Violations[0].Errors, "spec.requesters FieldValueForbidden")
			}
		})
	}
}

// A selector that does not parse selects nobody, and Validate says so, so the policy is not Ready.
func TestServiceAccountSelectorsThatDoNotParse(t *testing.T) {
	e := newTestEvaluator(t)
	p := basePolicy("broken")
	p.Spec.Requesters.ServiceAccountSelectors = []v1alpha1.ServiceAccountSelector{{NamespaceSelector: metav1.LabelSelector{
		MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "team", Operator: "Near", Values: []string{"a"}}},
	}}}
	assertFields(t, e.Validate(&p.Spec), "spec.requesters.serviceAccountSelectors[0].namespaceSelector FieldValueInvalid")
	req := baseRequest(t, baseTemplate())
	req.Requester = Requester{Username: "system:serviceaccount:shop:web"}
	req.ServiceAccountNamespaceLabels = map[string]string{"team": "a"}
	if d := e.Evaluate(Policies{Cluster: []v1alpha1.SignerPolicy{p}}, req); d.Result != Deny {
		t.Errorf("%s, want Deny", d.Result)
	}
}

func TestServiceAccountNamespace(t *testing.T) {
	for username, want := range map[string]string{"system:serviceaccount:shop:web": "shop", "alice": "", "system:serviceaccount:shop:web:x": ""} {
		if ns, ok := ServiceAccountNamespace(username); ns != want || ok != (want != "") {
			t.Errorf("ServiceAccountNamespace(%q) = %q, %t; want %q", username, ns, ok, want)
		}
	}
}

// An issuers.namespaceSelector that does not parse selects nothing, and Validate says so.
func TestIssuerNamespaceSelectorsThatDoNotParse(t *testing.T) {
	spec := v1alpha1.SignerPolicySpec{Issuers: &v1alpha1.IssuerSelector{Kind: "Issuer", Names: []string{"ca"},
		NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tenant", Operator: "In"}}}}}
	assertFields(t, newTestEvaluator(t).Validate(&spec), "spec.issuers.namespaceSelector FieldValueInvalid")
	if Governs(&spec, v1alpha1.IssuerReference{Kind: "Issuer", Namespace: "shop", Name: "ca"}, map[string]string{"tenant": "true"}) {
		t.Error("a selector that does not parse selected a namespace")
	}
}
