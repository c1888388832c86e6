package policy

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

// delegating governs team-a's "ca" Issuer, names no requesters, and delegates it within a day's
// lifetime and names of the Issuer's own namespace.
func delegating(name string) v1alpha1.SignerPolicy {
	p := basePolicy(name)
	p.Spec.Requesters = v1alpha1.Subjects{}
	p.Spec.Delegation = &v1alpha1.Delegation{}
	p.Spec.Duration = &v1alpha1.DurationBounds{Max: &metav1.Duration{Duration: 24 * time.Hour}}
	p.Spec.Allowed = v1alpha1.Allowed{DNSNames: []string{"*.$(issuer.namespace).svc"}}
	return p
}

// tenantPolicy is team-a's Ready namespaced policy for its "ca" Issuer, for service account web.
func tenantPolicy(name string, dnsNames ...string) v1alpha1.NamespacedSignerPolicy {
	return v1alpha1.NamespacedSignerPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: name, Generation: 1},
		Spec: v1alpha1.NamespacedSignerPolicySpec{
			IssuerRef:  &v1alpha1.LocalIssuerReference{Name: "ca"},
			Requesters: v1alpha1.Subjects{ServiceAccounts: []v1alpha1.ServiceAccountReference{{Namespace: "team-a", Name: "web"}}},
			Allowed:    v1alpha1.Allowed{DNSNames: dnsNames},
		},
		Status: v1alpha1.NamespacedSignerPolicyStatus{Conditions: []metav1.Condition{{
			Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, ObservedGeneration: 1, Reason: "Test"}}},
	}
}

func webRequest(t *testing.T, signer string, dnsNames ...string) Request {
	t.Helper()
	req := baseRequest(t, &x509.CertificateRequest{DNSNames: dnsNames})
	req.SignerName = signer
	req.Requester = Requester{Username: "system:serviceaccount:team-a:web", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:team-a"}}
	return req
}

func TestNamespacedPolicyDecidesWithinItsDelegation(t *testing.T) {
	e := newTestEvaluator(t)
	platform := delegating("platform")
	tests := []struct {
		name       string
		cluster    []v1alpha1.SignerPolicy
		namespaced []v1alpha1.NamespacedSignerPolicy
		req        Request
		want       Result
		policy     string
		mentions   []string
	}{
		{name: "allowed by both", cluster: []v1alpha1.SignerPolicy{platform},
			namespaced: []v1alpha1.NamespacedSignerPolicy{tenantPolicy("web", "web.team-a.svc")},
			req:        webRequest(t, testSigner, "web.team-a.svc"), want: Approve, policy: "team-a/web"},
		{name: "the tenant allows what the delegation does not", cluster: []v1alpha1.SignerPolicy{platform},
			namespaced: []v1alpha1.NamespacedSignerPolicy{tenantPolicy("web", "*.example.com")},
			req:        webRequest(t, testSigner, "api.example.com"), want: Deny,
			mentions: []string{`policy "team-a/web": SignerPolicy "platform" spec.allowed.dnsNames`}},
		{name: "$(issuer.namespace) is the Issuer's, not the requester's", cluster: []v1alpha1.SignerPolicy{platform},
			namespaced: []v1alpha1.NamespacedSignerPolicy{tenantPolicy("web", "*.team-b.svc")},
			req:        webRequest(t, testSigner, "web.team-b.svc"), want: Deny,
			mentions: []string{`SignerPolicy "platform" spec.allowed.dnsNames`}},
		{name: "no delegation: the namespaced policy is not in force", cluster: []v1alpha1.SignerPolicy{withoutDelegation(platform)},
			namespaced: []v1alpha1.NamespacedSignerPolicy{tenantPolicy("web", "web.team-a.svc")},
			req:        webRequest(t, testSigner, "web.team-a.svc"), want: Deny,
			mentions: []string{`policy "platform": spec.requesters`}},
		{name: "no SignerPolicy at all: nothing governs", namespaced: []v1alpha1.NamespacedSignerPolicy{tenantPolicy("web", "web.team-a.svc")},
			req: webRequest(t, testSigner, "web.team-a.svc"), want: NotGoverned},
		{name: "a delegation that is not Ready puts nothing in force", cluster: []v1alpha1.SignerPolicy{withReady(platform, metav1.ConditionTrue, 0)},
			namespaced: []v1alpha1.NamespacedSignerPolicy{tenantPolicy("web", "web.team-a.svc")},
			req:        webRequest(t, testSigner, "web.team-a.svc"), want: Wait},
		{name: "another namespace's policy does not govern the Issuer", cluster: []v1alpha1.SignerPolicy{platform},
			namespaced: []v1alpha1.NamespacedSignerPolicy{inNamespace(tenantPolicy("web", "web.team-a.svc"), "team-b")},
			req:        webRequest(t, testSigner, "web.team-a.svc"), want: Deny},
		{name: "a ClusterIssuer is never a namespaced policy's", cluster: []v1alpha1.SignerPolicy{clusterIssuerDelegation()},
			namespaced: []v1alpha1.NamespacedSignerPolicy{tenantPolicy("web", "web.team-a.svc")},
			req:        webRequest(t, "clusterissuers.cert-manager.io/ca", "web.team-a.svc"), want: Deny},
		{name: "a namespaced policy not Ready waits", cluster: []v1alpha1.SignerPolicy{platform},
			namespaced: []v1alpha1.NamespacedSignerPolicy{notReadyTenant(tenantPolicy("web", "web.team-a.svc"))},
			req:        webRequest(t, testSigner, "web.team-a.svc"), want: Wait},
		{name: "a mode the delegation does not permit refuses", cluster: []v1alpha1.SignerPolicy{automaticOnly(platform)},
			namespaced: []v1alpha1.NamespacedSignerPolicy{manualTenant(tenantPolicy("web", "web.team-a.svc"))},
			req:        webRequest(t, testSigner, "web.team-a.svc"), want: Deny, mentions: []string{"spec.approval.mode: Unsupported value"}},
		{name: "a service account of another namespace refuses", cluster: []v1alpha1.SignerPolicy{platform},
			namespaced: []v1alpha1.NamespacedSignerPolicy{otherNamespaceSA(tenantPolicy("web", "web.team-a.svc"))},
			req:        webRequest(t, testSigner, "web.team-a.svc"), want: Deny, mentions: []string{"spec.requesters.serviceAccounts[0].namespace"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := e.Evaluate(Policies{Cluster: tt.cluster, Namespaced: tt.namespaced}, tt.req)
			if d.Result != tt.want || d.Policy != tt.policy {
				t.Fatalf("decision = %s by %q, want %s by %q: %s", d.Result, d.Policy, tt.want, tt.policy, d.Message())
			}
			for _, m := range tt.mentions {
				if !strings.Contains(d.Message(), m) {
					t.Errorf("message does not mention %q:\n%s", m, d.Message())
				}
			}
		})
	}
}

func withoutDelegation(p v1alpha1.SignerPolicy) v1alpha1.SignerPolicy {
	p.Spec.Delegation = nil
	return p
}

func automaticOnly(p v1alpha1.SignerPolicy) v1alpha1.SignerPolicy {
	p.Spec.Delegation = &v1alpha1.Delegation{ApprovalModes: []v1alpha1.ApprovalMode{v1alpha1.ApprovalAutomatic}}
	return p
}

func clusterIssuerDelegation() v1alpha1.SignerPolicy {
	p := delegating("cluster")
	p.Spec.IssuerRef = &v1alpha1.IssuerReference{Kind: v1alpha1.IssuerKindClusterIssuer, Name: "ca"}
	return p
}

func inNamespace(p v1alpha1.NamespacedSignerPolicy, ns string) v1alpha1.NamespacedSignerPolicy {
	p.Namespace = ns
	return p
}

func notReadyTenant(p v1alpha1.NamespacedSignerPolicy) v1alpha1.NamespacedSignerPolicy {
	p.Generation = 2
	return p
}

func manualTenant(p v1alpha1.NamespacedSignerPolicy) v1alpha1.NamespacedSignerPolicy {
	p.Spec.Approval.Mode = v1alpha1.ApprovalManual
	return p
}

func otherNamespaceSA(p v1alpha1.NamespacedSignerPolicy) v1alpha1.NamespacedSignerPolicy {
	p.Spec.Requesters.ServiceAccounts[0].Namespace = "team-b"
	return p
}

// Lifetimes: a CSR asking for none gets the shorter of the tenant's default and the delegation's
// max; one asking for more than the delegation's max is refused at approval and, once a person
// approved it anyway, clamped at signing.
func TestNamespacedLifetimeIsBoundedByTheDelegation(t *testing.T) {
	e := newTestEvaluator(t)
	policies := Policies{Cluster: []v1alpha1.SignerPolicy{delegating("platform")},
		Namespaced: []v1alpha1.NamespacedSignerPolicy{tenantPolicy("web", "web.team-a.svc")}}

	req := webRequest(t, testSigner, "web.team-a.svc")
	if d := e.Evaluate(policies, req); d.Result != Approve || d.Lifetime != 24*time.Hour {
		t.Errorf("no lifetime requested: %s with %s, want Approve with the delegation's 24h: %s", d.Result, d.Lifetime, d.Message())
	}
	req.Duration = 48 * time.Hour
	if d := e.Evaluate(policies, req); d.Result != Deny || !strings.Contains(d.Message(), `SignerPolicy "platform" spec.duration.max`) {
		t.Errorf("48h requested: %s, want Deny naming the delegation's max: %s", d.Result, d.Message())
	}
	if d := e.EvaluateForSigning(policies, req); d.Result != Approve || d.Lifetime != 24*time.Hour {
		t.Errorf("48h approved by a person: signing %s with %s, want the delegation's 24h", d.Result, d.Lifetime)
	}
}

func TestIssuerNamespacePlaceholder(t *testing.T) {
	m := matcher{id: identityOf(Requester{Username: "alice"})}
	if m.match("*.$(issuer.namespace).svc", "web.team-a.svc", matchDNS) {
		t.Error("$(issuer.namespace) matched with no Issuer")
	}
	m.id.issuerNamespace = "team-a"
	if !m.match("*.$(issuer.namespace).svc", "web.team-a.svc", matchDNS) || m.match("*.$(issuer.namespace).svc", "web.team-b.svc", matchDNS) {
		t.Error("$(issuer.namespace) does not stand for the Issuer's namespace")
	}
}

// A delegation's rules judge the lifetime the namespaced policy grants, not the delegation's own
// default; and a CSR asking for none under a tenant without a default gets the delegation's.
func TestDelegationRulesSeeTheGrantedLifetime(t *testing.T) {
	e := newTestEvaluator(t)
	platform := delegating("platform")
	platform.Spec.Duration = &v1alpha1.DurationBounds{Default: &metav1.Duration{Duration: 48 * time.Hour}}
	platform.Spec.Validations = []v1alpha1.Validation{{Rule: `request.duration <= duration("720h")`, Message: "at most 30 days"}}

	long := tenantPolicy("web", "web.team-a.svc")
	long.Spec.Duration = &v1alpha1.DurationBounds{Default: &metav1.Duration{Duration: 87600 * time.Hour}}
	req := webRequest(t, testSigner, "web.team-a.svc")
	for _, evaluate := range []func(Policies, Request) Decision{e.Evaluate, e.EvaluateForSigning} {
		d := evaluate(Policies{Cluster: []v1alpha1.SignerPolicy{platform}, Namespaced: []v1alpha1.NamespacedSignerPolicy{long}}, req)
		if d.Result != Deny || !strings.Contains(d.Message(), "at most 30 days") {
			t.Errorf("a tenant default of 10 years: %s with %s, want Deny by the delegation's rule: %s", d.Result, d.Lifetime, d.Message())
		}
	}

	d := e.Evaluate(Policies{Cluster: []v1alpha1.SignerPolicy{platform}, Namespaced: []v1alpha1.NamespacedSignerPolicy{tenantPolicy("web", "web.team-a.svc")}}, req)
	if d.Result != Approve || d.Lifetime != 48*time.Hour {
		t.Errorf("no lifetime chosen: %s with %s, want Approve with the delegation's default 48h", d.Result, d.Lifetime)
	}
}

// A tenant policy the operator found out of force holds off no denial on its Issuer; one it has
// not looked at yet does, since it may be about to allow the CSR.
func TestOutOfForceTenantPolicyHoldsOffNoDenial(t *testing.T) {
	e := newTestEvaluator(t)
	platform := delegating("platform")
	platform.Spec.Requesters = v1alpha1.Subjects{Users: []string{"alice"}}
	outOfForce := tenantPolicy("broken", "web.team-a.svc")
	outOfForce.Status.Conditions[0].Status = metav1.ConditionFalse
	pending := tenantPolicy("new", "web.team-a.svc")
	pending.Status.Conditions = nil

	req := baseRequest(t, &x509.CertificateRequest{DNSNames: []string{"web.team-b.svc"}})
	if d := e.Evaluate(Policies{Cluster: []v1alpha1.SignerPolicy{platform}, Namespaced: []v1alpha1.NamespacedSignerPolicy{outOfForce}}, req); d.Result != Deny {
		t.Errorf("beside a tenant policy out of force: %s, want Deny: %s", d.Result, d.Message())
	}
	if d := e.Evaluate(Policies{Cluster: []v1alpha1.SignerPolicy{platform}, Namespaced: []v1alpha1.NamespacedSignerPolicy{pending}}, req); d.Result != Wait {
		t.Errorf("beside a tenant policy not looked at yet: %s, want Wait: %s", d.Result, d.Message())
	}
}

// A namespaced policy's approvers are not its requesters: a workload approving its own CSRs would
// make a Manual policy Automatic, past a delegation that permits only Manual.
func TestTenantRequestersMayNotApproveThemselves(t *testing.T) {
	platform := delegating("platform")
	platform.Spec.Delegation.ApprovalModes = []v1alpha1.ApprovalMode{v1alpha1.ApprovalManual}
	p := manualTenant(tenantPolicy("web", "web.team-a.svc"))
	p.Spec.Approval.Approvers = &v1alpha1.Subjects{ServiceAccounts: p.Spec.Requesters.ServiceAccounts}
	assertFields(t, BeyondDelegation(&platform, &p), "spec.approval.approvers.serviceAccounts[0] FieldValueForbidden")
	p.Spec.Approval.Approvers = &v1alpha1.Subjects{ServiceAccounts: []v1alpha1.ServiceAccountReference{{Namespace: "team-a", Name: "security"}}}
	assertFields(t, BeyondDelegation(&platform, &p))
}

// A tenant's policy cannot widen any field past its delegation: each bound of the delegating
// policy refuses, naming its own field, what the tenant's allows.
func TestEveryDelegationBoundHolds(t *testing.T) {
	e := newTestEvaluator(t)
	wide := tenantPolicy("web", "web.team-a.svc")
	wide.Spec.AllowCA = true
	wide.Spec.Usages = []v1alpha1.KeyUsage{"digital signature", "key encipherment", "server auth", "client auth", "cert sign"}
	tests := []struct {
		name   string
		bound  func(*v1alpha1.SignerPolicy)
		req    func(*Request)
		fields string
	}{
		{name: "CA flag", req: func(r *Request) { r.IsCA = true }, fields: `SignerPolicy "platform" spec.allowCA`},
		{name: "usages", bound: func(p *v1alpha1.SignerPolicy) {
			p.Spec.Usages = []v1alpha1.KeyUsage{"digital signature", "server auth"}
		},
			req: func(r *Request) { r.Usages = append(r.Usages, "client auth") }, fields: `SignerPolicy "platform" spec.usages`},
		{name: "key", bound: func(p *v1alpha1.SignerPolicy) {
			p.Spec.PrivateKey = &v1alpha1.PrivateKeyPolicy{ECDSA: &v1alpha1.ECDSAKeyPolicy{MinSize: 384}}
		}, fields: `SignerPolicy "platform" spec.privateKey`},
		{name: "validations", bound: func(p *v1alpha1.SignerPolicy) {
			p.Spec.Validations = []v1alpha1.Validation{{Rule: `request.dnsNames.all(n, n.startsWith("api."))`, Message: "api names only"}}
		}, fields: "api names only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			platform := delegating("platform")
			if tt.bound != nil {
				tt.bound(&platform)
			}
			req := webRequest(t, testSigner, "web.team-a.svc")
			if tt.req != nil {
				tt.req(&req)
			}
			for _, evaluate := range []func(Policies, Request) Decision{e.Evaluate, e.EvaluateForSigning} {
				d := evaluate(Policies{Cluster: []v1alpha1.SignerPolicy{platform}, Namespaced: []v1alpha1.NamespacedSignerPolicy{wide}}, req)
				if d.Result != Deny || !strings.Contains(d.Message(), tt.fields) {
					t.Errorf("%s, want Deny naming %s: %s", d.Result, tt.fields, d.Message())
				}
			}
		})
	}
}
