package policy

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

// serviceAccountPolicy lets every service account of team-a or team-b ask for names under its own
// namespace's service domain, and nothing else, through a rule over the requester's identity.
func serviceAccountPolicy(rules ...v1alpha1.Validation) v1alpha1.SignerPolicy {
	p := basePolicy("sa")
	p.Spec.Requesters = v1alpha1.Subjects{Groups: []string{"system:serviceaccounts:team-a", "system:serviceaccounts:team-b"}}
	p.Spec.Allowed = v1alpha1.Allowed{DNSNames: []string{"*.*.svc"}}
	p.Spec.Validations = rules
	return p
}

var ownNamespace = v1alpha1.Validation{
	Rule:    `request.dnsNames.all(n, n.endsWith("." + requester.serviceAccount.namespace + ".svc"))`,
	Message: "DNS names must lie in the requester's own namespace",
}

func serviceAccountRequest(t *testing.T, namespace string, dnsNames ...string) Request {
	req := baseRequest(t, &x509.CertificateRequest{DNSNames: dnsNames})
	req.Requester = Requester{Username: "system:serviceaccount:" + namespace + ":web",
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"}}
	return req
}

func TestValidationsSeeTheRequestersIdentity(t *testing.T) {
	e := newTestEvaluator(t)
	policies := []v1alpha1.SignerPolicy{serviceAccountPolicy(ownNamespace)}

	if d := e.Evaluate(Policies{Cluster: policies}, serviceAccountRequest(t, "team-a", "web.team-a.svc")); d.Result != Approve {
		t.Fatalf("own namespace: %s, %s", d.Result, d.Message())
	}
	// The patterns allow team-b's service domain to team-a; only the rule tells them apart.
	d := e.Evaluate(Policies{Cluster: policies}, serviceAccountRequest(t, "team-a", "web.team-a.svc", "db.team-b.svc"))
	if d.Result != Deny {
		t.Fatalf("another team's namespace: %s, want Deny", d.Result)
	}
	errs := d.Violations[0].Errors
	assertFields(t, errs, "spec.validations[0].rule FieldValueInvalid")
	if !strings.Contains(errs[0].Detail, ownNamespace.Message) {
		t.Errorf("detail %q does not carry the rule's message", errs[0].Detail)
	}
}

// A person who is not a service account sees an empty serviceAccount, so a rule built on it cannot
// be satisfied by a name that merely looks like a namespace's.
func TestValidationsGiveOthersNoServiceAccount(t *testing.T) {
	e := newTestEvaluator(t)
	p := serviceAccountPolicy(v1alpha1.Validation{Rule: `requester.serviceAccount.namespace != "" && requester.serviceAccount.name == "web"`})
	p.Spec.Requesters.Users = []string{"system:serviceaccount:team-a:web:x", "alice"}
	for _, username := range []string{"alice", "system:serviceaccount:team-a:web:x"} {
		req := serviceAccountRequest(t, "team-a", "web.team-a.svc")
		req.Requester = Requester{Username: username}
		d := e.Evaluate(Policies{Cluster: []v1alpha1.SignerPolicy{p}}, req)
		if d.Result != Deny {
			t.Errorf("%s: %s, want Deny", username, d.Result)
			continue
		}
		assertFields(t, d.Violations[0].Errors, "spec.validations[0].rule FieldValueInvalid")
	}
}

// Every variable the documentation lists is there, with the value the CSR and the requester give.
func TestValidationsSeeEveryDocumentedField(t *testing.T) {
	e := newTestEvaluator(t)
	p := basePolicy("all")
	p.Spec.AllowCA = true
	p.Spec.Usages = []v1alpha1.KeyUsage{"digital signature", "server auth", "cert sign"}
	p.Spec.Duration = &v1alpha1.DurationBounds{Max: &metav1.Duration{Duration: 48 * time.Hour}}
	p.Spec.Allowed.Organizations = []string{"Team A"}
	p.Spec.Allowed.IPAddresses = []string{"10.0.0.0/8"}
	rules := []string{
		`request.commonName == ["web.team-a.example.com"]`,
		`request.dnsNames == ["web.team-a.example.com"]`,
		`request.ipAddresses == ["10.0.0.1"] && request.ipAddresses.all(ip, cidr("10.0.0.0/8").containsIP(ip))`,
		`request.organizations == ["Team A"] && size(request.organizationalUnits) == 0`,
		`request.uris == [] && request.emailAddresses == []`,
		`request.usages == ["digital signature", "server auth", "cert sign"]`,
		`request.duration == duration("48h")`, // the requested 72h, clamped at signing
		`request.isCA`,
		`request.key.algorithm == "ecdsa" && request.key.size == 256`,
		`requester.username == "alice" && requester.uid == "u-1"`,
		`"team-a" in requester.groups && requester.extra["scopes"] == ["read"]`,
		`requester.serviceAccount.namespace == "" && requester.serviceAccount.name == ""`,
	}
	for _, r := range rules {
		p.Spec.Validations = append(p.Spec.Validations, v1alpha1.Validation{Rule: r})
	}
	req := baseRequest(t, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: "web.team-a.example.com", Organization: []string{"Team A"}},
		DNSNames: []string{"web.team-a.example.com"}, IPAddresses: []net.IP{net.ParseIP("10.0.0.1")},
	})
	req.Usages = append(req.Usages, "cert sign")
	req.IsCA, req.Duration = true, 72*time.Hour
	req.Requester = Requester{Username: "alice", UID: "u-1", Groups: []string{"team-a"}, Extra: map[string][]string{"scopes": {"read"}}}
	if errs := e.rules.validate(p.Spec.Validations); len(errs) > 0 {
		t.Fatalf("rules do not compile: %v", errs)
	}
	if d := e.EvaluateForSigning(Policies{Cluster: []v1alpha1.SignerPolicy{p}}, req); d.Result != Approve {
		t.Fatalf("%s: %s", d.Result, d.Message())
	}
}

// A rule that does not compile is reported by Validate with the compiler's words, and should a
// policy holding one ever be in force, it refuses everything rather than being skipped.
func TestValidationsThatDoNotCompileFailClosed(t *testing.T) {
	e := newTestEvaluator(t)
	for name, tt := range map[string]struct {
		rule, mention string
	}{
		"syntax":          {rule: `request.dnsNames.all(n, `, mention: "Syntax error"},
		"unknown field":   {rule: `request.hostnames == []`, mention: "hostnames"},
		"unknown var":     {rule: `object.metadata.name == "x"`, mention: "undeclared reference to 'object'"},
		"not a bool":      {rule: `request.dnsNames`, mention: "must evaluate to a bool"},
		"too costly":      {rule: `request.dnsNames.all(a, request.dnsNames.all(b, request.dnsNames.all(c, a + b + c != "")))`, mention: "estimated worst-case cost"},
		"wrong arg types": {rule: `request.duration > 5`, mention: "no matching overload"},
	} {
		t.Run(name, func(t *testing.T) {
			p := basePolicy("broken")
			p.Spec.Validations = []v1alpha1.Validation{{Rule: `true`}, {Rule: tt.rule}}
			errs := e.Validate(&p.Spec)
			assertFields(t, errs, "spec.validations[1].rule FieldValueInvalid")
			if len(errs) == 1 && !strings.Contains(errs[0].Detail, tt.mention) {
				t.Errorf("Validate detail %q does not mention %q", errs[0].Detail, tt.mention)
			}
			d := e.Evaluate(Policies{Cluster: []v1alpha1.SignerPolicy{p}}, baseRequest(t, baseTemplate()))
			if d.Result != Deny {
				t.Fatalf("a policy with a broken rule: %s, want Deny", d.Result)
			}
			assertFields(t, d.Violations[0].Errors, "spec.validations[1].rule FieldValueInvalid")
		})
	}
}

// A rule that fails while evaluating (here, indexing a list the CSR left empty) refuses the CSR.
func TestValidationsThatCannotBeEvaluatedRefuse(t *testing.T) {
	e := newTestEvaluator(t)
	p := basePolicy("index")
	p.Spec.Validations = []v1alpha1.Validation{{Rule: `request.organizations[0] == "Team A"`}}
	d := e.Evaluate(Policies{Cluster: []v1alpha1.SignerPolicy{p}}, baseRequest(t, baseTemplate()))
	if d.Result != Deny || !strings.Contains(d.Violations[0].Errors[0].Detail, "could not be evaluated") {
		t.Fatalf("%s: %s, want Deny because the rule could not be evaluated", d.Result, d.Message())
	}
}

// Rules speak for the policy's own requesters: someone the policy does not name is told only that.
func TestValidationsAreNotAskedForOthers(t *testing.T) {
	e := newTestEvaluator(t)
	p := basePolicy("other")
	p.Spec.Requesters = v1alpha1.Subjects{Users: []string{"bob"}}
	p.Spec.Validations = []v1alpha1.Validation{{Rule: `false`}}
	d := e.Evaluate(Policies{Cluster: []v1alpha1.SignerPolicy{p}}, baseRequest(t, baseTemplate()))
	assertFields(t, d.Violations[0].Errors, "spec.requesters FieldValueForbidden")
}

// Each rule is compiled once, however many CSRs and policies use it.
func TestValidationsCompileOnce(t *testing.T) {
	e := newTestEvaluator(t)
	policies := []v1alpha1.SignerPolicy{serviceAccountPolicy(ownNamespace), serviceAccountPolicy(ownNamespace)}
	policies[1].Name = "sa-2"
	for range 3 {
		e.Evaluate(Policies{Cluster: policies}, serviceAccountRequest(t, "team-b", "web.team-b.svc"))
	}
	if n := len(e.rules.programs); n != 1 {
		t.Errorf("%d programs cached, want the one rule compiled once", n)
	}
}

func TestRequiredAttributes(t *testing.T) {
	e := newTestEvaluator(t)
	p := basePolicy("required")
	p.Spec.Allowed.IPAddresses = []string{"10.0.0.0/8"}
	p.Spec.Allowed.Required = []v1alpha1.AttributeName{"commonName", "ipAddresses"}
	withIP := baseTemplate()
	withIP.IPAddresses = []net.IP{net.ParseIP("10.0.0.1")}
	if d := e.Evaluate(Policies{Cluster: []v1alpha1.SignerPolicy{p}}, baseRequest(t, withIP)); d.Result != Approve {
		t.Fatalf("holding both: %s, %s", d.Result, d.Message())
	}
	d := e.Evaluate(Policies{Cluster: []v1alpha1.SignerPolicy{p}}, baseRequest(t, &x509.CertificateRequest{DNSNames: []string{"web.team-a.example.com"}}))
	if d.Result != Deny {
		t.Fatalf("holding neither: %s, want Deny", d.Result)
	}
	assertFields(t, d.Violations[0].Errors, "spec.allowed.commonName FieldValueRequired", "spec.allowed.ipAddresses FieldValueRequired")

	// A name this operator does not know (from a newer schema, or written past it) refuses.
	p.Spec.Allowed.Required = []v1alpha1.AttributeName{"dnsName"}
	if d := e.Evaluate(Policies{Cluster: []v1alpha1.SignerPolicy{p}}, baseRequest(t, withIP)); d.Result != Deny {
		t.Fatalf("an unknown required attribute: %s, want Deny", d.Result)
	}
}

// Rules see DNS names and email domains as patterns compare them, so capitals do not get a name
// past a rule that refuses it.
func TestValidationsSeeNamesLowerCased(t *testing.T) {
	e := newTestEvaluator(t)
	p := serviceAccountPolicy(v1alpha1.Validation{Rule: `!request.dnsNames.exists(n, n.endsWith(".kube-system.svc"))`})
	p.Spec.Allowed.EmailAddresses = []string{"*@*.example.com"}
	p.Spec.Validations = append(p.Spec.Validations, v1alpha1.Validation{Rule: `request.emailAddresses.all(a, !a.endsWith("@admin.example.com"))`})
	req := serviceAccountRequest(t, "team-a", "api.KUBE-SYSTEM.svc")
	if d := e.Evaluate(Policies{Cluster: []v1alpha1.SignerPolicy{p}}, req); d.Result != Deny {
		t.Errorf("a refused name in capitals: %s, want Deny", d.Result)
	}
	req = baseRequest(t, &x509.CertificateRequest{DNSNames: []string{"web.team-a.svc"}, EmailAddresses: []string{"Root@ADMIN.example.com"}})
	req.Requester = serviceAccountRequest(t, "team-a").Requester
	if d := e.Evaluate(Policies{Cluster: []v1alpha1.SignerPolicy{p}}, req); d.Result != Deny {
		t.Errorf("a refused email domain in capitals: %s, want Deny", d.Result)
	}
}

// A CSR with more values of an attribute than rules are evaluated for is refused before any rule
// runs: evaluation time grows faster than the cost CEL counts.
func TestValidationsRefuseHugeCSRsBeforeRunning(t *testing.T) {
	e := newTestEvaluator(t)
	names := make([]string, maxListSize+1)
	for i := range names {
		names[i] = fmt.Sprintf("n%d.team-a.svc", i)
	}
	d := e.Evaluate(Policies{Cluster: []v1alpha1.SignerPolicy{serviceAccountPolicy(ownNamespace)}}, serviceAccountRequest(t, "team-a", names...))
	if d.Result != Deny {
		t.Fatalf("%s, want Deny", d.Result)
	}
	assertFields(t, d.Violations[0].Errors, "spec.validations FieldValueForbidden")
	if !strings.Contains(d.Violations[0].Errors[0].Detail, "1025 dnsNames") {
		t.Errorf("detail %q does not name the attribute and its count", d.Violations[0].Errors[0].Detail)
	}
}

// Literals are checked when the rule compiles, so a duration in days keeps the policy from being
// Ready rather than refusing every CSR.
func TestValidationsCheckLiteralsAtCompileTime(t *testing.T) {
	e := newTestEvaluator(t)
	for _, rule := range []string{`request.duration <= duration("30d")`, `request.dnsNames.all(n, n.matches("[a-z"))`} {
		p := basePolicy("literal")
		p.Spec.Validations = []v1alpha1.Validation{{Rule: rule}}
		assertFields(t, e.Validate(&p.Spec), "spec.validations[0].rule FieldValueInvalid")
	}
}

// A selection of many tenants' Issuers with many tenants' service accounts would let one tenant use
// another's CA; the issuer variable lets the rule tie them together.
func TestValidationsTieTheIssuerToTheRequester(t *testing.T) {
	e := newTestEvaluator(t)
	tenant := map[string]string{"tenant": "true"}
	p := basePolicy("tenants")
	p.Spec.IssuerRef = nil
	p.Spec.Issuers = &v1alpha1.IssuerSelector{Kind: v1alpha1.IssuerKindIssuer, Names: []string{"ca"},
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: tenant}}
	p.Spec.Requesters = v1alpha1.Subjects{ServiceAccountSelectors: []v1alpha1.ServiceAccountSelector{{NamespaceSelector: metav1.LabelSelector{MatchLabels: tenant}}}}
	p.Spec.Allowed = v1alpha1.Allowed{DNSNames: []string{"*.$(requester.serviceAccount.namespace).svc"}}
	p.Spec.Validations = []v1alpha1.Validation{{
		Rule: `issuer.kind == "Issuer" && issuer.name == "ca" && issuer.namespace == requester.serviceAccount.namespace`, Message: "use your own namespace's CA"}}
	for issuerNamespace, want := range map[string]Result{"shop": Approve, "bank": Deny} {
		req := baseRequest(t, &x509.CertificateRequest{DNSNames: []string{"web.shop.svc"}})
		req.SignerName = "issuers.cert-manager.io/" + issuerNamespace + ".ca"
		req.Requester = Requester{Username: "system:serviceaccount:shop:web"}
		req.ServiceAccountNamespaceLabels, req.IssuerNamespaceLabels = tenant, tenant
		if d := e.Evaluate(Policies{Cluster: []v1alpha1.SignerPolicy{p}}, req); d.Result != want {
			t.Errorf("shop's service account, %s's Issuer: %s, want %s", issuerNamespace, d.Message(), want)
		}
	}
}
