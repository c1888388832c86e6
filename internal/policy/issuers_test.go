package policy

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

func TestGoverns(t *testing.T) {
	issuer := func(ns, name string) v1alpha1.IssuerReference {
		return v1alpha1.IssuerReference{Kind: v1alpha1.IssuerKindIssuer, Namespace: ns, Name: name}
	}
	cluster := func(name string) v1alpha1.IssuerReference {
		return v1alpha1.IssuerReference{Kind: v1alpha1.IssuerKindClusterIssuer, Name: name}
	}
	one := v1alpha1.SignerPolicySpec{IssuerRef: &v1alpha1.IssuerReference{Kind: v1alpha1.IssuerKindIssuer, Namespace: "team-a", Name: "ca"}}
	corp := v1alpha1.SignerPolicySpec{Issuers: &v1alpha1.IssuerSelector{Kind: v1alpha1.IssuerKindClusterIssuer, Names: []string{"corp-*"}}}
	tenants := v1alpha1.SignerPolicySpec{Issuers: &v1alpha1.IssuerSelector{Kind: v1alpha1.IssuerKindIssuer, Names: []string{"ca"},
		Namespaces: []string{"team-*"}, NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tenant": "true"}}}}
	tenant := map[string]string{"tenant": "true"}
	tests := []struct {
		name   string
		spec   v1alpha1.SignerPolicySpec
		ref    v1alpha1.IssuerReference
		labels map[string]string
		want   bool
	}{
		{"issuerRef: its issuer", one, issuer("team-a", "ca"), nil, true},
		{"issuerRef: another namespace", one, issuer("team-b", "ca"), nil, false},
		{"issuerRef: the ClusterIssuer of the same name", one, cluster("ca"), nil, false},
		{"a ClusterIssuer name pattern", corp, cluster("corp-root"), nil, true},
		{"* spans dots, as a name's may", corp, cluster("corp-root.v2"), nil, true},
		{"* alone selects every name", v1alpha1.SignerPolicySpec{Issuers: &v1alpha1.IssuerSelector{Kind: v1alpha1.IssuerKindClusterIssuer, Names: []string{"*"}}},
			cluster("letsencrypt.prod"), nil, true},
		{"an Issuer of a matching name is of the other kind", corp, issuer("team-a", "corp-root"), nil, false},
		{"an Issuer in a matching, labelled namespace", tenants, issuer("team-a", "ca"), tenant, true},
		{"a namespace the pattern leaves out", tenants, issuer("ops", "ca"), tenant, false},
		{"a namespace without the label", tenants, issuer("team-a", "ca"), map[string]string{"tenant": "false"}, false},
		{"a namespace the caller could not read", tenants, issuer("team-a", "ca"), nil, false},
		{"another issuer name", tenants, issuer("team-a", "vault"), tenant, false},
	}
	for _, tt := range tests {
		if got := Governs(&tt.spec, tt.ref, tt.labels); got != tt.want {
			t.Errorf("%s: Governs(%s) = %t, want %t", tt.name, tt.ref, got, tt.want)
		}
	}
}

// A policy selecting issuers decides the CSRs of every issuer it selects, and none of any other,
// whatever status says: the evaluator checks the selection against the CSR's own issuer.
func TestSelectionsGovernWhatTheySelect(t *testing.T) {
	e := newTestEvaluator(t)
	p := basePolicy("tenants")
	p.Spec.IssuerRef = nil
	p.Spec.Issuers = &v1alpha1.IssuerSelector{Kind: v1alpha1.IssuerKindIssuer, Names: []string{"ca"},
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tenant": "true"}}}
	for _, tt := range []struct {
		signer string
		labels map[string]string
		want   Result
	}{
		{"issuers.cert-manager.io/team-a.ca", map[string]string{"tenant": "true"}, Approve},
		{"issuers.cert-manager.io/team-a.ca", map[string]string{}, NotGoverned},
		{"issuers.cert-manager.io/team-a.other", map[string]string{"tenant": "true"}, NotGoverned},
		{"clusterissuers.cert-manager.io/ca", nil, NotGoverned},
		{"example.com/ca", nil, NotGoverned},
	} {
		req := baseRequest(t, baseTemplate())
		req.SignerName, req.IssuerNamespaceLabels = tt.signer, tt.labels
		if d := e.Evaluate(Policies{Cluster: []v1alpha1.SignerPolicy{p}}, req); d.Result != tt.want {
			t.Errorf("%s with labels %v: %s, want %s", tt.signer, tt.labels, d.Result, tt.want)
		}
	}
}
