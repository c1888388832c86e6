//go:build !unit

package v1alpha1_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/policy"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

// These tests send policies to the real API server with the generated CRD installed, so they
// prove what `kubectl apply` of a policy does, not what a Go validator would say.
var env *harness.Env

func TestMain(m *testing.M) {
	os.Exit(harness.ControlPlaneMain(m, &env))
}

func validPolicy() *policyv1alpha1.SignerPolicy {
	return &policyv1alpha1.SignerPolicy{
		Spec: policyv1alpha1.SignerPolicySpec{
			IssuerRef:  &policyv1alpha1.IssuerReference{Kind: "Issuer", Namespace: "team-a", Name: "ca"},
			Requesters: policyv1alpha1.Subjects{ServiceAccounts: []policyv1alpha1.ServiceAccountReference{{Namespace: "team-a", Name: "web"}}},
			Duration: &policyv1alpha1.DurationBounds{
				Min: &metav1.Duration{Duration: time.Hour}, Default: &metav1.Duration{Duration: 24 * time.Hour}, Max: &metav1.Duration{Duration: 720 * time.Hour},
			},
			Usages: []policyv1alpha1.KeyUsage{"digital signature", "server auth"},
			Allowed: policyv1alpha1.Allowed{
				CommonName:          []string{"$(requester.serviceAccount.name).svc"},
				DNSNames:            []string{"*.example.com", "$(requester.serviceAccount.name).$(requester.serviceAccount.namespace).svc"},
				IPAddresses:         []string{"10.0.0.0/8", "2001:db8::/32"},
				URIs:                []string{"spiffe://cluster.local/ns/$(requester.serviceAccount.namespace)/sa/$(requester.serviceAccount.name)"},
				EmailAddresses:      []string{"*@example.com"},
				Organizations:       []string{"Example"},
				OrganizationalUnits: []string{"$(requester.serviceAccount.namespace)"}, Countries: []string{"DE"},
				Provinces: []string{"Berlin"}, Localities: []string{"Berlin"}, StreetAddresses: []string{"Main St *"},
				PostalCodes: []string{"10*"}, SerialNumbers: []string{"$(requester.username)"},
				Required: []policyv1alpha1.AttributeName{"commonName", "dnsNames"},
			},
			Validations: []policyv1alpha1.Validation{{
				Rule:    `request.dnsNames.all(n, n.endsWith("." + requester.serviceAccount.namespace + ".svc") || n.endsWith(".example.com"))`,
				Message: "DNS names must lie in the requester's namespace or under example.com",
			}},
			PrivateKey: &policyv1alpha1.PrivateKeyPolicy{ECDSA: &policyv1alpha1.ECDSAKeyPolicy{MinSize: 384}, Ed25519: &policyv1alpha1.Ed25519KeyPolicy{}},
		},
	}
}

func create(t *testing.T, p *policyv1alpha1.SignerPolicy) error {
	t.Helper()
	p.GenerateName = "v-"
	err := env.Admin.Create(context.Background(), p)
	if err == nil {
		t.Cleanup(func() { _ = env.Admin.Delete(context.Background(), p) })
	}
	return err
}

func TestValidPolicyIsAcceptedWithDefaults(t *testing.T) {
	p := validPolicy()
	p.Spec.PrivateKey = &policyv1alpha1.PrivateKeyPolicy{RSA: &policyv1alpha1.RSAKeyPolicy{}}
	if err := create(t, p); err != nil {
		t.Fatalf("valid policy refused: %v", err)
	}
	if p.Spec.Approval.Mode != policyv1alpha1.ApprovalAutomatic {
		t.Errorf("spec.approval.mode = %q, want the default Automatic", p.Spec.Approval.Mode)
	}
	if p.Spec.PrivateKey.RSA.MinSize != 2048 {
		t.Errorf("spec.privateKey.rsa.minSize = %d, want the default 2048", p.Spec.PrivateKey.RSA.MinSize)
	}
}

func TestValidClusterIssuerPolicyIsAccepted(t *testing.T) {
	p := validPolicy()
	p.Spec.IssuerRef = &policyv1alpha1.IssuerReference{Kind: "ClusterIssuer", Name: "root.ca"}
	p.Spec.Approval = policyv1alpha1.Approval{Mode: policyv1alpha1.ApprovalManual, Approvers: &policyv1alpha1.Subjects{Groups: []string{"security"}}}
	if err := create(t, p); err != nil {
		t.Fatalf("valid policy refused: %v", err)
	}
}

func TestInvalidPoliciesAreRefusedNamingTheField(t *testing.T) {
	d := func(s string) *metav1.Duration {
		v, err := time.ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		return &metav1.Duration{Duration: v}
	}
	tests := []struct {
		name      string
		mutate    func(*policyv1alpha1.SignerPolicy)
		wantField string
		wantText  string
	}{
		{"Issuer without namespace", func(p *policyv1alpha1.SignerPolicy) { p.Spec.IssuerRef.Namespace = "" },
			"spec.issuerRef.namespace", "namespace is required for an Issuer"},
		{"ClusterIssuer with namespace", func(p *policyv1alpha1.SignerPolicy) { p.Spec.IssuerRef.Kind = "ClusterIssuer" },
			"spec.issuerRef.namespace", "must not be set for a ClusterIssuer"},
		{"unknown issuer kind", func(p *policyv1alpha1.SignerPolicy) { p.Spec.IssuerRef.Kind = "ExternalIssuer" },
			"spec.issuerRef.kind", "Unsupported value"},
		{"issuer name not a DNS subdomain", func(p *policyv1alpha1.SignerPolicy) { p.Spec.IssuerRef.Name = "My_CA" },
			"spec.issuerRef.name", "to govern issuers by pattern, use spec.issuers"},
		{"no requesters", func(p *policyv1alpha1.SignerPolicy) { p.Spec.Requesters = policyv1alpha1.Subjects{} },
			"spec.requesters", "must name at least one user, group, service account or service account selector"},
		{"service account without namespace", func(p *policyv1alpha1.SignerPolicy) { p.Spec.Requesters.ServiceAccounts[0].Namespace = "" },
			"spec.requesters.serviceAccounts[0].namespace", ""},
		{"unknown approval mode", func(p *policyv1alpha1.SignerPolicy) { p.Spec.Approval.Mode = "Sometimes" },
			"spec.approval.mode", "Unsupported value"},
		{"min greater than max", func(p *policyv1alpha1.SignerPolicy) { p.Spec.Duration.Min, p.Spec.Duration.Default = d("1000h"), nil },
			"spec.duration.min", "min must not be greater than max"},
		{"min under 10m", func(p *policyv1alpha1.SignerPolicy) { p.Spec.Duration.Min = d("5m") },
			"spec.duration.min", "must be at least 10m"},
		{"max under 10m", func(p *policyv1alpha1.SignerPolicy) {
			p.Spec.Duration = &policyv1alpha1.DurationBounds{Max: d("9m59s")}
		},
			"spec.duration.max", "must be at least 10m"},
		{"default under 10m", func(p *policyv1alpha1.SignerPolicy) {
			p.Spec.Duration = &policyv1alpha1.DurationBounds{Default: d("60s")}
		}, "spec.duration.default", "must be at least 10m"},
		{"default above max", func(p *policyv1alpha1.SignerPolicy) { p.Spec.Duration.Default = d("721h") },
			"spec.duration.default", "must lie between min and max"},
		{"usage not a Kubernetes key usage", func(p *policyv1alpha1.SignerPolicy) {
			p.Spec.Usages = []policyv1alpha1.KeyUsage{"server auth", "world domination"}
		},
			"spec.usages[1]", "Unsupported value"},
		{"unknown placeholder", func(p *policyv1alpha1.SignerPolicy) {
			p.Spec.Allowed.DNSNames = []string{"$(requester.password).example.com"}
		},
			"spec.allowed.dnsNames[0]", "holds an unknown placeholder or a stray $: the placeholders are $(requester.username)"},
		{"unterminated placeholder", func(p *policyv1alpha1.SignerPolicy) { p.Spec.Allowed.CommonName = []string{"$(requester.username"} },
			"spec.allowed.commonName[0]", "holds an unknown placeholder or a stray $"},
		{"unknown placeholder in a subject attribute", func(p *policyv1alpha1.SignerPolicy) {
			p.Spec.Allowed.SerialNumbers = []string{"$(requester.uid)"}
		},
			"spec.allowed.serialNumbers[0]", "holds an unknown placeholder"},
		{"namespace placeholder that does not exist", func(p *policyv1alpha1.SignerPolicy) {
			p.Spec.Allowed.DNSNames = []string{"web.$(requester.namespace).svc"}
		},
			"spec.allowed.dnsNames[0]", "$(requester.serviceAccount.namespace)"},
		{"** in a DNS pattern", func(p *policyv1alpha1.SignerPolicy) { p.Spec.Allowed.DNSNames = []string{"**.example.com"} },
			"spec.allowed.dnsNames[0]", "holds **, which is no wider than *"},
		{"duplicate organizational units", func(p *policyv1alpha1.SignerPolicy) { p.Spec.Allowed.OrganizationalUnits = []string{"Ops", "Ops"} },
			"spec.allowed.organizationalUnits[1]", "Duplicate value"},
		{"DNS pattern with a space", func(p *policyv1alpha1.SignerPolicy) { p.Spec.Allowed.DNSNames = []string{"a b.example.com"} },
			"spec.allowed.dnsNames[0]", "may hold only letters, digits, hyphens, dots, * and placeholders"},
		{"URI pattern without a scheme", func(p *policyv1alpha1.SignerPolicy) { p.Spec.Allowed.URIs = []string{"//cluster.local/x"} },
			"spec.allowed.uris[0]", "must start with a scheme"},
		{"email pattern without a domain", func(p *policyv1alpha1.SignerPolicy) { p.Spec.Allowed.EmailAddresses = []string{"alice"} },
			"spec.allowed.emailAddresses[0]", "must be local-part@domain"},
		{"CIDR with a bad prefix", func(p *policyv1alpha1.SignerPolicy) {
			p.Spec.Allowed.IPAddresses = []string{"10.0.0.0/8", "10.0.0.0/33"}
		},
			"spec.allowed.ipAddresses[1]", "must be a CIDR"},
		{"plain IP instead of a CIDR", func(p *policyv1alpha1.SignerPolicy) { p.Spec.Allowed.IPAddresses = []string{"10.0.0.1"} },
			"spec.allowed.ipAddresses[0]", "a single address is written 10.0.0.1/32"},
		{"private key policy allowing nothing", func(p *policyv1alpha1.SignerPolicy) { p.Spec.PrivateKey = &policyv1alpha1.PrivateKeyPolicy{} },
			"spec.privateKey", "must allow at least one of rsa, ecdsa or ed25519"},
		{"RSA minimum under 2048", func(p *policyv1alpha1.SignerPolicy) {
			p.Spec.PrivateKey.RSA = &policyv1alpha1.RSAKeyPolicy{MinSize: 1024}
		},
			"spec.privateKey.rsa.minSize", "should be greater than or equal to 2048"},
		{"ECDSA size that is no curve", func(p *policyv1alpha1.SignerPolicy) { p.Spec.PrivateKey.ECDSA.MinSize = 300 },
			"spec.privateKey.ecdsa.minSize", "Unsupported value"},
		{"required attribute without patterns", func(p *policyv1alpha1.SignerPolicy) {
			p.Spec.Allowed.URIs = nil
			p.Spec.Allowed.Required = append(p.Spec.Allowed.Required, "uris", "ipAddresses")
		}, "spec.allowed.required", "lists uris without allowing any value of it"},
		{"required attribute that does not exist", func(p *policyv1alpha1.SignerPolicy) {
			p.Spec.Allowed.Required = []policyv1alpha1.AttributeName{"dnsName"}
		},
			"spec.allowed.required[0]", "Unsupported value"},
		{"empty validation rule", func(p *policyv1alpha1.SignerPolicy) { p.Spec.Validations[0].Rule = "" },
			"spec.validations[0].rule", "should be at least 1 chars long"},
		{"both issuerRef and issuers", func(p *policyv1alpha1.SignerPolicy) {
			p.Spec.Issuers = &policyv1alpha1.IssuerSelector{Kind: "ClusterIssuer", Names: []string{"*"}}
		}, "spec", "must name exactly one of issuerRef (one issuer), issuers"},
		{"neither issuerRef nor issuers", func(p *policyv1alpha1.SignerPolicy) { p.Spec.IssuerRef = nil },
			"spec", "must name exactly one of issuerRef (one issuer), issuers"},
		{"Issuers selected without saying which namespaces", func(p *policyv1alpha1.SignerPolicy) {
			p.Spec.IssuerRef, p.Spec.Issuers = nil, &policyv1alpha1.IssuerSelector{Kind: "Issuer", Names: []string{"ca"}}
		}, "spec.issuers.namespaces", "must say which namespaces"},
		{"ClusterIssuers selected by namespace", func(p *policyv1alpha1.SignerPolicy) {
			p.Spec.IssuerRef, p.Spec.Issuers = nil, &policyv1alpha1.IssuerSelector{Kind: "ClusterIssuer", Names: []string{"*"}, Namespaces: []string{"a"}}
		}, "spec.issuers.namespaces", "ClusterIssuers have no namespace"},
		{"an issuer name pattern that no name can match", func(p *policyv1alpha1.SignerPolicy) {
			p.Spec.IssuerRef, p.Spec.Issuers = nil, &policyv1alpha1.IssuerSelector{Kind: "ClusterIssuer", Names: []string{"Corp_*"}}
		}, "spec.issuers.names[0]", "may hold only lower-case letters"},
		{"an empty issuer namespace selector", func(p *policyv1alpha1.SignerPolicy) {
			p.Spec.IssuerRef, p.Spec.Issuers = nil, &policyv1alpha1.IssuerSelector{Kind: "Issuer", Names: []string{"ca"}, NamespaceSelector: &metav1.LabelSelector{}}
		}, "spec.issuers.namespaceSelector", `write namespaces: ["*"]`},
		{"issuer name * as a pattern", func(p *policyv1alpha1.SignerPolicy) { p.Spec.IssuerRef.Name = "*" },
			"spec.issuerRef.name", "to govern issuers by pattern, use spec.issuers"},
		{"service account namespace in capitals", func(p *policyv1alpha1.SignerPolicy) { p.Spec.Requesters.ServiceAccounts[0].Namespace = "Team-A" },
			"spec.requesters.serviceAccounts[0].namespace", "must be a namespace's name"},
		{"empty namespace selector", func(p *policyv1alpha1.SignerPolicy) {
			p.Spec.Requesters.ServiceAccountSelectors = []policyv1alpha1.ServiceAccountSelector{{}}
		}, "spec.requesters.serviceAccountSelectors[0].namespaceSelector", "an empty selector would select every namespace"},
		{"selector among the approvers", func(p *policyv1alpha1.SignerPolicy) {
			p.Spec.Approval.Approvers = &policyv1alpha1.Subjects{ServiceAccountSelectors: []policyv1alpha1.ServiceAccountSelector{{
				NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}}}}}
		}, "spec.approval.approvers.serviceAccountSelectors", "approvers are named one by one"},
		{"service account name pattern in capitals", func(p *policyv1alpha1.SignerPolicy) {
			p.Spec.Requesters.ServiceAccountSelectors = []policyv1alpha1.ServiceAccountSelector{{
				NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}}, Names: []string{"Web"}}}
		}, "spec.requesters.serviceAccountSelectors[0].names[0]", "may hold only lower-case letters"},
		{"duplicate service accounts", func(p *policyv1alpha1.SignerPolicy) {
			p.Spec.Requesters.ServiceAccounts = append(p.Spec.Requesters.ServiceAccounts, p.Spec.Requesters.ServiceAccounts[0])
		}, "spec.requesters.serviceAccounts[1]", "Duplicate value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validPolicy()
			tt.mutate(p)
			err := create(t, p)
			if err == nil {
				t.Fatalf("the API server accepted the policy; want it refused naming %s", tt.wantField)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.wantField) || !strings.Contains(msg, tt.wantText) {
				t.Errorf("refusal %q does not name %s with %q", msg, tt.wantField, tt.wantText)
			}
		})
	}
}

// Durations are Go durations, which people write in days anyway: each such value gets one message
// under its own field that says what to write instead, not a type error dressed as another rule.
func TestDurationsInDaysAreRefusedWithWhatToWrite(t *testing.T) {
	for _, field := range []string{"min", "max", "default"} {
		t.Run(field, func(t *testing.T) {
			raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(validPolicy())
			if err != nil {
				t.Fatal(err)
			}
			u := &unstructured.Unstructured{Object: raw}
			u.SetAPIVersion(policyv1alpha1.GroupVersion.String())
			u.SetKind("SignerPolicy")
			u.SetGenerateName("days-")
			if err := unstructured.SetNestedField(u.Object, "90d", "spec", "duration", field); err != nil {
				t.Fatal(err)
			}
			err = env.Admin.Create(context.Background(), u)
			if err == nil {
				_ = env.Admin.Delete(context.Background(), u)
				t.Fatal("the API server accepted 90d")
			}
			msg := err.Error()
			if !strings.Contains(msg, "spec.duration."+field) || !strings.Contains(msg, "write 90d as 2160h") {
				t.Errorf("refusal %q does not tell spec.duration.%s to use hours", msg, field)
			}
			if strings.Contains(msg, "at least 10m") || strings.Contains(msg, "between min and max") || strings.Contains(msg, "conversion") {
				t.Errorf("refusal %q also reports a rule the value never reached", msg)
			}
		})
	}
}

func TestStatusCannotBeWrittenThroughSpec(t *testing.T) {
	p := validPolicy()
	p.Status.SignerName = "issuers.cert-manager.io/forged.x"
	if err := create(t, p); err != nil {
		t.Fatal(err)
	}
	if p.Status.SignerName != "" {
		t.Errorf("status.signerName = %q after create; the status subresource must ignore it", p.Status.SignerName)
	}
}

// The policy README.md shows a newcomer is one the API server accepts and whose rules compile.
func TestReadmePolicyIsAcceptedAndItsRulesCompile(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "## A SignerPolicy\n\n```yaml\n")
	block, _, closed := strings.Cut(rest, "```")
	if !ok || !closed {
		t.Fatal("README.md has no yaml block under ## A SignerPolicy")
	}
	var p policyv1alpha1.SignerPolicy
	if err := yaml.UnmarshalStrict([]byte(block), &p); err != nil {
		t.Fatalf("README's policy: %v", err)
	}
	if err := create(t, &p); err != nil {
		t.Fatalf("the API server refused README's policy: %v", err)
	}
	e, err := policy.NewEvaluator()
	if err != nil {
		t.Fatal(err)
	}
	if errs := e.Validate(&p.Spec); len(errs) > 0 {
		t.Errorf("README's policy does not compile: %v", errs)
	}
}

// signerNamesPolicy is a valid policy governing signer names rather than an issuer.
func signerNamesPolicy(names ...string) *policyv1alpha1.SignerPolicy {
	return &policyv1alpha1.SignerPolicy{Spec: policyv1alpha1.SignerPolicySpec{
		SignerNames: names,
		Requesters:  policyv1alpha1.Subjects{Groups: []string{"dev"}},
		Allowed:     policyv1alpha1.Allowed{CommonName: []string{"$(requester.username)"}, Organizations: []string{"dev"}},
	}}
}

func kubeletServingPolicy() *policyv1alpha1.SignerPolicy {
	return &policyv1alpha1.SignerPolicy{Spec: policyv1alpha1.SignerPolicySpec{
		SignerNames:    []string{"kubernetes.io/kubelet-serving"},
		KubeletServing: &policyv1alpha1.KubeletServing{IPAddresses: []string{"10.0.0.0/8"}, DNSNames: []string{"*.nodes.example.com"}},
		Requesters:     policyv1alpha1.Subjects{Groups: []string{"system:nodes"}},
	}}
}

func TestSignerNamesPoliciesAreAccepted(t *testing.T) {
	for name, p := range map[string]*policyv1alpha1.SignerPolicy{
		"kube-apiserver-client": signerNamesPolicy("kubernetes.io/kube-apiserver-client"),
		"a custom signer":       signerNamesPolicy("example.com/mesh"),
		"a domain pattern":      signerNamesPolicy("example.com/*", "mesh.example.org/workloads.v1"),
		"kubelet-serving":       kubeletServingPolicy(),
	} {
		t.Run(name, func(t *testing.T) {
			if err := create(t, p); err != nil {
				t.Fatalf("valid policy refused: %v", err)
			}
		})
	}
}

func TestInvalidSignerNamesPoliciesAreRefusedNamingTheField(t *testing.T) {
	tests := []struct {
		name      string
		policy    *policyv1alpha1.SignerPolicy
		wantField string
		wantText  string
	}{
		{"issuerRef and signerNames", func() *policyv1alpha1.SignerPolicy {
			p := signerNamesPolicy("example.com/mesh")
			p.Spec.IssuerRef = &policyv1alpha1.IssuerReference{Kind: "ClusterIssuer", Name: "ca"}
			return p
		}(), "spec", "must name exactly one of issuerRef (one issuer), issuers (issuers by pattern and namespace) and signerNames"},
		{"an Issuer's signer name", signerNamesPolicy("issuers.cert-manager.io/team-a.ca"), "spec.signerNames[0]", "govern cert-manager issuers with spec.issuerRef or spec.issuers"},
		{"every ClusterIssuer by pattern", signerNamesPolicy("clusterissuers.cert-manager.io/*"), "spec.signerNames[0]", "is a cert-manager signer name"},
		{"cert-manager's own domain", signerNamesPolicy("cert-manager.io/*"), "spec.signerNames[0]", "is a cert-manager signer name"},
		{"a bare *", signerNamesPolicy("*"), "spec.signerNames[0]", "must be a signer name"},
		{"a * in the domain", signerNamesPolicy("*.cert-manager.io/ns.ca"), "spec.signerNames[0]", "* stands only for the whole path"},
		{"a * inside the path", signerNamesPolicy("example.com/mesh-*"), "spec.signerNames[0]", "* stands only for the whole path"},
		{"a domain without a dot", signerNamesPolicy("example/mesh"), "spec.signerNames[0]", "must be a signer name"},
		{"every kubernetes.io signer", signerNamesPolicy("kubernetes.io/*"), "spec.signerNames[0]", "name the kubernetes.io signers one by one"},
		{"the kubelets' client signer", signerNamesPolicy("kubernetes.io/kube-apiserver-client-kubelet"), "spec.signerNames[0]", "would deny the CSRs that join nodes"},
		{"no signer names", signerNamesPolicy(), "spec", "must name exactly one of issuerRef"},
		{"kube-apiserver-client without the users it may name", func() *policyv1alpha1.SignerPolicy {
			p := signerNamesPolicy("kubernetes.io/kube-apiserver-client")
			p.Spec.Allowed.CommonName = nil
			return p
		}(), "spec.allowed.commonName", "authenticates as the user in its common name"},
		{"approvers for kube-apiserver-client", func() *policyv1alpha1.SignerPolicy {
			p := signerNamesPolicy("kubernetes.io/kube-apiserver-client")
			p.Spec.Approval = policyv1alpha1.Approval{Mode: policyv1alpha1.ApprovalManual, Approvers: &policyv1alpha1.Subjects{Users: []string{"sam"}}}
			return p
		}(), "spec.approval.approvers", "approvers cannot be named for Kubernetes' own signers"},
		{"approvers for kubelet-serving", func() *policyv1alpha1.SignerPolicy {
			p := kubeletServingPolicy()
			p.Spec.Approval = policyv1alpha1.Approval{Mode: policyv1alpha1.ApprovalManual, Approvers: &policyv1alpha1.Subjects{Groups: []string{"ops"}}}
			return p
		}(), "spec.approval.approvers", "approvers cannot be named for Kubernetes' own signers"},
		{"kubeletServing for another signer", func() *policyv1alpha1.SignerPolicy {
			p := kubeletServingPolicy()
			p.Spec.SignerNames = []string{"kubernetes.io/kubelet-serving", "example.com/mesh"}
			return p
		}(), "spec.kubeletServing", `needs signerNames to be exactly ["kubernetes.io/kubelet-serving"]`},
		{"kubeletServing on an issuer", func() *policyv1alpha1.SignerPolicy {
			p := validPolicy()
			p.Spec.Allowed, p.Spec.Usages = policyv1alpha1.Allowed{}, nil
			p.Spec.KubeletServing = &policyv1alpha1.KubeletServing{}
			return p
		}(), "spec.kubeletServing", "needs signerNames to be exactly"},
		{"kubeletServing with its own usages", func() *policyv1alpha1.SignerPolicy {
			p := kubeletServingPolicy()
			p.Spec.Usages = []policyv1alpha1.KeyUsage{"client auth"}
			return p
		}(), "spec.kubeletServing", "leave out usages and allowed"},
		{"kubeletServing with allowed names", func() *policyv1alpha1.SignerPolicy {
			p := kubeletServingPolicy()
			p.Spec.Allowed.DNSNames = []string{"*"}
			return p
		}(), "spec.kubeletServing", "leave out usages and allowed"},
		{"kubeletServing with a bad CIDR", func() *policyv1alpha1.SignerPolicy {
			p := kubeletServingPolicy()
			p.Spec.KubeletServing.IPAddresses = []string{"10.0.0.1"}
			return p
		}(), "spec.kubeletServing.ipAddresses[0]", "must be a CIDR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := create(t, tt.policy)
			if err == nil {
				t.Fatalf("the API server accepted the policy; want it refused naming %s", tt.wantField)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.wantField) || !strings.Contains(msg, tt.wantText) {
				t.Errorf("refusal %q does not name %s with %q", msg, tt.wantField, tt.wantText)
			}
		})
	}
}
