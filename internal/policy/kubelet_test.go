package policy

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

func kubeletPolicy() v1alpha1.SignerPolicy {
	p := v1alpha1.SignerPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "kubelets", Generation: 1},
		Spec: v1alpha1.SignerPolicySpec{
			SignerNames:    []string{KubeletServingSigner},
			KubeletServing: &v1alpha1.KubeletServing{IPAddresses: []string{"10.0.0.0/8", "203.0.113.0/24"}, DNSNames: []string{"*", "*.nodes.example.com"}},
			Requesters:     v1alpha1.Subjects{Groups: []string{"system:nodes"}},
		},
	}
	return withReady(p, metav1.ConditionTrue, 1)
}

func node1() *Node {
	return &Node{Name: "n1", Addresses: []NodeAddress{
		{Type: "InternalIP", Address: "10.0.0.1"}, {Type: "ExternalIP", Address: "203.0.113.1"},
		{Type: "Hostname", Address: "n1"}, {Type: "InternalDNS", Address: "n1.nodes.example.com"},
	}}
}

func kubeletTemplate() *x509.CertificateRequest {
	return &x509.CertificateRequest{
		Subject:     pkix.Name{CommonName: "system:node:n1", Organization: []string{"system:nodes"}},
		DNSNames:    []string{"n1", "n1.nodes.example.com"},
		IPAddresses: []net.IP{net.ParseIP("10.0.0.1"), net.ParseIP("203.0.113.1")},
	}
}

func kubeletRequest(t *testing.T, template *x509.CertificateRequest) Request {
	t.Helper()
	return Request{
		SignerName: KubeletServingSigner,
		Requester:  Requester{Username: "system:node:n1", Groups: []string{"system:nodes", "system:authenticated"}},
		CSR:        newCSR(t, newKey(t), template),
		Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth},
		Node:       node1(),
	}
}

func TestKubeletServingAllowsANodeItsOwnAddresses(t *testing.T) {
	p := kubeletPolicy()
	assertFields(t, violations(&p, kubeletRequest(t, kubeletTemplate())))
	req := kubeletRequest(t, kubeletTemplate())
	req.Usages = append(req.Usages, certificatesv1.UsageKeyEncipherment)
	assertFields(t, violations(&p, req))

	e, err := NewEvaluator()
	if err != nil {
		t.Fatal(err)
	}
	if d := e.Evaluate(Policies{Cluster: []v1alpha1.SignerPolicy{p}}, kubeletRequest(t, kubeletTemplate())); d.Result != Approve || d.Policy != "kubelets" {
		t.Errorf("Evaluate = %+v, want Approve by kubelets", d)
	}
}

// An attacker's attempts, each refused under the field that says why.
func TestKubeletServingRefusesWhatIsNotTheNodesOwn(t *testing.T) {
	kubeletPath := "spec.kubeletServing"
	tests := []struct {
		name   string
		edit   func(*x509.CertificateRequest, *Request)
		policy func(*v1alpha1.SignerPolicy)
		want   []string
		text   string
	}{
		{name: "another node's IP", edit: func(c *x509.CertificateRequest, _ *Request) { c.IPAddresses = []net.IP{net.ParseIP("10.0.0.2")} },
			want: []string{kubeletPath + " FieldValueInvalid"}, text: `is not an IP address of Node "n1"`},
		{name: "another node's host name", edit: func(c *x509.CertificateRequest, _ *Request) { c.DNSNames = []string{"n2"} },
			want: []string{kubeletPath + " FieldValueInvalid"}, text: `is not a host name of Node "n1"`},
		{name: "a DNS name equal to another node's name", edit: func(c *x509.CertificateRequest, _ *Request) {
			c.DNSNames = []string{"n1", "n2.nodes.example.com"}
		}, want: []string{kubeletPath + " FieldValueInvalid"}, text: "n2.nodes.example.com"},
		{name: "a foreign IP", edit: func(c *x509.CertificateRequest, _ *Request) { c.IPAddresses = []net.IP{net.ParseIP("8.8.8.8")} },
			want: []string{kubeletPath + " FieldValueInvalid"}, text: "8.8.8.8"},
		{name: "a wildcard", edit: func(c *x509.CertificateRequest, _ *Request) { c.DNSNames = []string{"*.nodes.example.com"} },
			want: []string{kubeletPath + " FieldValueInvalid"}, text: "wildcard"},
		{name: "another node's CN", edit: func(c *x509.CertificateRequest, _ *Request) { c.Subject.CommonName = "system:node:n2" },
			want: []string{kubeletPath + " FieldValueInvalid"}, text: "common name must be exactly"},
		{name: "system:masters as O", edit: func(c *x509.CertificateRequest, _ *Request) {
			c.Subject.Organization = []string{"system:nodes", "system:masters"}
		}, want: []string{kubeletPath + " FieldValueInvalid"}, text: `organization must be exactly "system:nodes"`},
		{name: "an OU", edit: func(c *x509.CertificateRequest, _ *Request) { c.Subject.OrganizationalUnit = []string{"x"} },
			want: []string{kubeletPath + " FieldValueForbidden"}, text: "holds only its CN and O"},
		{name: "client auth besides server auth", edit: func(_ *x509.CertificateRequest, r *Request) {
			r.Usages = append(r.Usages, certificatesv1.UsageClientAuth)
		}, want: []string{kubeletPath + " FieldValueInvalid"}, text: "exactly those kubelets request"},
		{name: "an email SAN", edit: func(c *x509.CertificateRequest, _ *Request) { c.EmailAddresses = []string{"root@example.com"} },
			want: []string{kubeletPath + " FieldValueForbidden"}, text: "email address"},
		{name: "a URI SAN", edit: func(c *x509.CertificateRequest, _ *Request) {
			c.URIs = []*url.URL{{Scheme: "spiffe", Host: "cluster.local", Path: "/ns/kube-system/sa/admin"}}
		}, want: []string{kubeletPath + " FieldValueForbidden"}, text: "URI"},
		{name: "no SAN", edit: func(c *x509.CertificateRequest, _ *Request) { c.DNSNames, c.IPAddresses = nil, nil },
			want: []string{kubeletPath + " FieldValueRequired"}},
		{name: "an IP outside the policy's CIDRs", edit: func(*x509.CertificateRequest, *Request) {},
			policy: func(p *v1alpha1.SignerPolicy) { p.Spec.KubeletServing.IPAddresses = []string{"10.0.0.0/8"} },
			want:   []string{kubeletPath + ".ipAddresses FieldValueInvalid"}, text: "203.0.113.1"},
		{name: "a DNS name outside the policy's patterns", edit: func(*x509.CertificateRequest, *Request) {},
			policy: func(p *v1alpha1.SignerPolicy) { p.Spec.KubeletServing.DNSNames = []string{"*.nodes.example.com"} },
			want:   []string{kubeletPath + ".dnsNames FieldValueInvalid"}, text: `"n1"`},
		{name: "no lifetime under a policy with duration.max", edit: func(*x509.CertificateRequest, *Request) {},
			policy: func(p *v1alpha1.SignerPolicy) {
				p.Spec.Duration = &v1alpha1.DurationBounds{Max: &metav1.Duration{Duration: 24 * time.Hour}}
			}, want: []string{"spec.duration.max FieldValueRequired"}, text: "spec.expirationSeconds"},
		{name: "a lifetime above duration.max", edit: func(_ *x509.CertificateRequest, r *Request) { r.Duration = 48 * time.Hour },
			policy: func(p *v1alpha1.SignerPolicy) {
				p.Spec.Duration = &v1alpha1.DurationBounds{Max: &metav1.Duration{Duration: 24 * time.Hour}}
			}, want: []string{"spec.duration.max FieldValueInvalid"}},
		{name: "a lifetime above a year without duration.max", edit: func(_ *x509.CertificateRequest, r *Request) { r.Duration = 9000 * time.Hour },
			want: []string{"spec.duration.max FieldValueInvalid"}, text: "one year"},
		{name: "the Node is gone", edit: func(_ *x509.CertificateRequest, r *Request) { r.Node = nil },
			want: []string{kubeletPath + " FieldValueInvalid"}, text: `Node "n1" was not found`},
		{name: "the Node read is another node's", edit: func(_ *x509.CertificateRequest, r *Request) { r.Node.Name = "n2" },
			want: []string{kubeletPath + " FieldValueInvalid"}, text: "was not found"},
		{name: "a Node stating garbage addresses", edit: func(_ *x509.CertificateRequest, r *Request) {
			r.Node.Addresses = []NodeAddress{{Type: "InternalIP", Address: "not-an-ip"}, {Type: "Hostname", Address: ""}}
		}, want: []string{kubeletPath + " FieldValueInvalid", kubeletPath + " FieldValueInvalid", kubeletPath + " FieldValueInvalid", kubeletPath + " FieldValueInvalid"}},
		{name: "a user who is not a node", edit: func(_ *x509.CertificateRequest, r *Request) {
			r.Requester = Requester{Username: "system:node:n1", Groups: []string{"system:authenticated"}}
		}, policy: func(p *v1alpha1.SignerPolicy) { p.Spec.Requesters.Users = []string{"system:node:n1"} }, want: []string{kubeletPath + " FieldValueForbidden"}, text: "is not a node"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := kubeletPolicy()
			if tt.policy != nil {
				tt.policy(&p)
			}
			template := kubeletTemplate()
			req := kubeletRequest(t, template)
			tt.edit(template, &req)
			req.CSR = newCSR(t, newKey(t), template)
			errs := violations(&p, req)
			assertFields(t, errs, tt.want...)
			if tt.text != "" && !strings.Contains(errs.ToAggregate().Error(), tt.text) {
				t.Errorf("errors %v do not say %q", errs, tt.text)
			}
		})
	}
}

// A pod's service account cannot pass for a node by naming one in its CN: the policy's requesters
// are nodes, and the kubelet rules look at who asked, not at what the CSR says.
func TestKubeletServingRefusesAServiceAccountClaimingANode(t *testing.T) {
	p := kubeletPolicy()
	req := kubeletRequest(t, kubeletTemplate())
	req.Requester = Requester{Username: "system:serviceaccount:default:web", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:default"}}
	assertFields(t, violations(&p, req), "spec.requesters FieldValueForbidden")

	p.Spec.Requesters.ServiceAccounts = []v1alpha1.ServiceAccountReference{{Namespace: "default", Name: "web"}}
	errs := violations(&p, req)
	assertFields(t, errs, "spec.kubeletServing FieldValueForbidden")
}

func TestKubeletServingIsNotLooserForAnotherSigner(t *testing.T) {
	p := kubeletPolicy()
	req := kubeletRequest(t, kubeletTemplate())
	req.SignerName = "example.com/kubelet-serving"
	e, err := NewEvaluator()
	if err != nil {
		t.Fatal(err)
	}
	if d := e.Evaluate(Policies{Cluster: []v1alpha1.SignerPolicy{p}}, req); d.Result != NotGoverned {
		t.Errorf("Evaluate = %v, want NotGoverned: a kubelet-serving policy governs only its signer", d.Result)
	}
}

// A kubelet writes its own Node's status, so a node could state another node's address as its
// own; an address another Node states too is refused.
func TestKubeletServingRefusesAnAddressAnotherNodeStatesToo(t *testing.T) {
	p := kubeletPolicy()
	req := kubeletRequest(t, kubeletTemplate())
	req.OtherNodeAddresses = map[string]string{"10.0.0.1": "n2", "n1.nodes.example.com": "n3"}
	errs := violations(&p, req)
	assertFields(t, errs, "spec.kubeletServing FieldValueInvalid", "spec.kubeletServing FieldValueInvalid")
	for _, want := range []string{`is a host name of Node "n3" too`, `is an address of Node "n2" too`} {
		if !strings.Contains(errs.ToAggregate().Error(), want) {
			t.Errorf("errors %v do not say %q", errs, want)
		}
	}
}

func TestNodeAddressKey(t *testing.T) {
	for _, tt := range []struct {
		a    NodeAddress
		want string
	}{
		{NodeAddress{Type: "InternalIP", Address: "::ffff:10.0.0.1"}, "10.0.0.1"},
		{NodeAddress{Type: "ExternalIP", Address: "2001:DB8::1"}, "2001:db8::1"},
		{NodeAddress{Type: "InternalIP", Address: "fe80::2%eth0"}, "fe80::2"},
		{NodeAddress{Type: "Hostname", Address: "N1.Example.com"}, "n1.example.com"},
		{NodeAddress{Type: "InternalIP", Address: "garbage"}, ""},
		{NodeAddress{Type: "Hostname", Address: ""}, ""},
		{NodeAddress{Type: "Other", Address: "x"}, ""},
	} {
		got, ok := NodeAddressKey(tt.a)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("NodeAddressKey(%+v) = %q, %v; want %q", tt.a, got, ok, tt.want)
		}
	}
}

// A kubelet writes its own Node's status, so what the Node states is not proof enough: without
// the policy's CIDRs and host name patterns no address is allowed, and loopback, link-local,
// unspecified and multicast addresses, localhost and Service names never are, whatever a Node
// states (a kubelet could state the API server's Service name and get the cluster CA to sign it).
func TestKubeletServingNeedsThePolicysNetworksAndNeverAllowsClusterLocalNames(t *testing.T) {
	ev := newTestEvaluator(t)
	check := func(t *testing.T, p v1alpha1.SignerPolicy, n *Node, tmpl *x509.CertificateRequest, want ...string) {
		t.Helper()
		req := kubeletRequest(t, tmpl)
		req.Node = n
		d := ev.Evaluate(Policies{Cluster: []v1alpha1.SignerPolicy{p}}, req)
		if d.Result != Deny {
			t.Fatalf("decision %s, want a denial", d.Result)
		}
		for _, w := range want {
			if !strings.Contains(d.Message(), w) {
				t.Errorf("denial %q does not say %q", d.Message(), w)
			}
		}
	}
	open := kubeletPolicy()
	open.Spec.KubeletServing = &v1alpha1.KubeletServing{}
	t.Run("no CIDRs, no patterns", func(t *testing.T) {
		check(t, open, node1(), kubeletTemplate(), "spec.kubeletServing.ipAddresses", "spec.kubeletServing.dnsNames", "lists no")
	})
	claims := node1()
	claims.Addresses = append(claims.Addresses,
		NodeAddress{Type: "InternalIP", Address: "127.0.0.1"}, NodeAddress{Type: "InternalIP", Address: "169.254.169.254"},
		NodeAddress{Type: "InternalIP", Address: "::"}, NodeAddress{Type: "Hostname", Address: "localhost"},
		NodeAddress{Type: "InternalDNS", Address: "kubernetes.default.svc.cluster.local"}, NodeAddress{Type: "InternalDNS", Address: "kubernetes.default.svc"})
	broad := kubeletPolicy()
	broad.Spec.KubeletServing = &v1alpha1.KubeletServing{IPAddresses: []string{"0.0.0.0/0", "::/0"}, DNSNames: []string{"*", "*.*", "*.*.*", "*.*.*.*", "*.*.*.*.*"}}
	for _, tc := range []struct{ name, dns, ip string }{
		{"loopback", "", "127.0.0.1"}, {"link-local metadata", "", "169.254.169.254"}, {"unspecified", "", "::"},
		{"localhost", "localhost", ""}, {"a Service name", "kubernetes.default.svc.cluster.local", ""}, {"a short Service name", "kubernetes.default.svc", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := kubeletTemplate()
			tmpl.DNSNames, tmpl.IPAddresses = nil, nil
			if tc.dns != "" {
				tmpl.DNSNames = []string{tc.dns}
			}
			if tc.ip != "" {
				tmpl.IPAddresses = []net.IP{net.ParseIP(tc.ip)}
			}
			check(t, broad, claims, tmpl, "which no node holds alone")
		})
	}
}
