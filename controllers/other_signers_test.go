//go:build !unit

package controllers_test

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

const (
	kubeletServing      = "kubernetes.io/kubelet-serving"
	kubeAPIServerClient = "kubernetes.io/kube-apiserver-client"
)

var kubeletUsages = []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth}

// createNode creates a Node with the given addresses in its status, as a kubelet registers itself.
func createNode(t *testing.T, name string, addresses ...corev1.NodeAddress) *corev1.Node {
	t.Helper()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	env.Create(t, n)
	n.Status.Addresses = addresses
	if err := env.Admin.Status().Update(context.Background(), n); err != nil {
		t.Fatalf("writing the addresses of Node %s: %v", name, err)
	}
	return n
}

func internalIP(ip string) corev1.NodeAddress {
	return corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip}
}

func hostname(name string) corev1.NodeAddress {
	return corev1.NodeAddress{Type: corev1.NodeHostName, Address: name}
}

// nodeClient authenticates as the node's kubelet does: system:node:<name> in group system:nodes.
func nodeClient(t *testing.T, node string) client.Client {
	return env.User(t, "system:node:"+node, "system:nodes")
}

type servingCSR struct {
	cn, o string
	dns   []string
	ips   []string
	email []string
}

func (s servingCSR) pem(t *testing.T) []byte {
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: s.cn}, DNSNames: s.dns, EmailAddresses: s.email}
	if s.o != "" {
		tmpl.Subject.Organization = []string{s.o}
	}
	for _, ip := range s.ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	return testpki.RequestPEM(t, testpki.NewKey(t, testpki.ECDSA), tmpl)
}

// kubeletServingPolicy creates the built-in kubelet serving policy, narrowed to node addresses in
// 10.1.0.0/16, and waits for it to be Ready.
func kubeletServingPolicy(t *testing.T) string {
	t.Helper()
	name := policyName(t)
	env.Create(t, &policyv1alpha1.SignerPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: policyv1alpha1.SignerPolicySpec{
			SignerNames:    []string{kubeletServing},
			KubeletServing: &policyv1alpha1.KubeletServing{IPAddresses: []string{"10.1.0.0/16"}, DNSNames: []string{"*"}},
			Requesters:     policyv1alpha1.Subjects{Groups: []string{"system:nodes"}},
		},
	})
	readyStatus(t, name, metav1.ConditionTrue)
	return name
}

// neverSigned checks, after the signing controller has had time to see the decided CSR, that the
// operator wrote no certificate and no Failed condition: for these signers it only decides.
func neverSigned(t *testing.T, name string) {
	t.Helper()
	time.Sleep(2 * time.Second)
	var got certificatesv1.CertificateSigningRequest
	if err := env.Admin.Get(context.Background(), client.ObjectKey{Name: name}, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Status.Certificate) > 0 || harness.Condition(&got, certificatesv1.CertificateFailed) != nil {
		t.Errorf("CSR %s for %s was signed or failed by the operator: certificate %d bytes, conditions %+v",
			name, got.Spec.SignerName, len(got.Status.Certificate), got.Status.Conditions)
	}
}

// recorded waits for the governance record of the decision on the CSR; an empty policy accepts
// any, as a denial's record names the policy it concerns, if any.
func recorded(t *testing.T, c *certificatesv1.CertificateSigningRequest, event, policy string) {
	t.Helper()
	harness.Eventually(t, wait, func() error {
		for _, r := range records.For(c.Name) {
			if r.Event == event && (policy == "" || r.Policy == policy) && r.SignerName == c.Spec.SignerName && r.CSRUID == string(c.UID) {
				return nil
			}
		}
		return fmt.Errorf("no %s record by %q for %s; have %+v", event, policy, c.Name, records.For(c.Name))
	})
}

func deniedRecorded(t *testing.T, c *certificatesv1.CertificateSigningRequest) {
	t.Helper()
	recorded(t, c, "Denied", "")
}

func TestKubeletServingApprovesANodeForItsOwnAddressesAndNeverSigns(t *testing.T) {
	ns := env.Namespace(t)
	n1 := "n1-" + ns
	createNode(t, n1, internalIP("10.1.0.1"), hostname(n1))
	policy := kubeletServingPolicy(t)

	c := env.SubmitCSR(t, nodeClient(t, n1), harness.CSR{SignerName: kubeletServing, Usages: kubeletUsages,
		Request: servingCSR{cn: "system:node:" + n1, o: "system:nodes", dns: []string{n1}, ips: []string{"10.1.0.1"}}.pem(t)})
	env.WaitForCSR(t, c.Name, wait, approvedBy(policy))
	recorded(t, c, "Approved", policy)
	neverSigned(t, c.Name)
}

// An attacker's attempts against the kubelet serving policy, each denied naming the field.
func TestKubeletServingDeniesWhatIsNotTheNodesOwn(t *testing.T) {
	ns := env.Namespace(t)
	n1, n2 := "n1-"+ns, "n2-"+ns
	createNode(t, n1, internalIP("10.1.1.1"), hostname(n1), corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "203.0.113.10"})
	createNode(t, n2, internalIP("10.1.1.2"), hostname(n2))
	liar := "liar-" + ns
	createNode(t, liar, internalIP("10.1.1.2"), hostname(liar))
	kubeletServingPolicy(t)
	cn1 := "system:node:" + n1
	own := servingCSR{cn: cn1, o: "system:nodes", dns: []string{n1}, ips: []string{"10.1.1.1"}}
	with := func(edit func(*servingCSR)) []byte {
		s := own
		edit(&s)
		return s.pem(t)
	}
	sa := "system:serviceaccount:" + ns + ":web"
	env.GrantCSRCreate(t, sa)
	tests := []struct {
		name  string
		as    client.Client
		csr   harness.CSR
		field string
	}{
		{"another node's IP", nodeClient(t, n1), harness.CSR{Request: with(func(s *servingCSR) { s.ips = []string{"10.1.1.2"} })}, "is not an IP address of Node"},
		{"another node's host name", nodeClient(t, n1), harness.CSR{Request: with(func(s *servingCSR) { s.dns = []string{n2} })}, "is not a host name of Node"},
		{"a foreign IP", nodeClient(t, n1), harness.CSR{Request: with(func(s *servingCSR) { s.ips = []string{"192.0.2.9"} })}, "spec.kubeletServing"},
		{"the node's own IP outside the policy's CIDRs", nodeClient(t, n1), harness.CSR{Request: with(func(s *servingCSR) { s.ips = []string{"203.0.113.10"} })},
			"spec.kubeletServing.ipAddresses"},
		{"another node's CN", nodeClient(t, n1), harness.CSR{Request: with(func(s *servingCSR) { s.cn = "system:node:" + n2 })}, "common name must be exactly"},
		{"the wrong O", nodeClient(t, n1), harness.CSR{Request: with(func(s *servingCSR) { s.o = "system:masters" })}, "organization must be exactly"},
		{"another node asking for n1", nodeClient(t, n2), harness.CSR{Request: own.pem(t)}, "spec.kubeletServing"},
		{"a pod's service account claiming a node's name", env.User(t, sa, "system:serviceaccounts", "system:serviceaccounts:"+ns),
			harness.CSR{Request: own.pem(t)}, "spec.requesters"},
		{"client auth besides server auth", nodeClient(t, n1), harness.CSR{Request: own.pem(t),
			Usages: []certificatesv1.KeyUsage{"digital signature", "server auth", "client auth"}}, "exactly those kubelets request"},
		{"an email SAN", nodeClient(t, n1), harness.CSR{Request: with(func(s *servingCSR) { s.email = []string{"root@example.com"} })}, "email address"},
		// A kubelet writes its own Node's status: stating n2's address as its own gets it nothing.
		{"an address another Node states too", nodeClient(t, liar), harness.CSR{Request: servingCSR{cn: "system:node:" + liar, o: "system:nodes",
			ips: []string{"10.1.1.2"}}.pem(t)}, "is an address of Node"},
		{"a lifetime above the bound", nodeClient(t, n1), harness.CSR{Request: own.pem(t), ExpirationSeconds: ptr.To[int32](9000 * 3600)}, "spec.duration.max"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.csr.SignerName = kubeletServing
			if tt.csr.Usages == nil {
				tt.csr.Usages = kubeletUsages
			}
			c := env.SubmitCSR(t, tt.as, tt.csr)
			env.WaitForCSR(t, c.Name, wait, deniedNaming(tt.field))
			deniedRecorded(t, c)
		})
	}
}

// A Node deleted between the CSR's creation and its evaluation leaves the node no addresses: the
// CSR is denied, naming the rule, rather than approved for addresses nobody can vouch for.
func TestKubeletServingDeniesWhenTheNodeIsGone(t *testing.T) {
	ns := env.Namespace(t)
	n3 := "n3-" + ns
	node := createNode(t, n3, internalIP("10.1.2.3"), hostname(n3))
	env.GrantCSRCreate(t, "system:node:"+n3)
	c := env.SubmitCSR(t, nodeClient(t, n3), harness.CSR{SignerName: kubeletServing, Usages: kubeletUsages,
		Request: servingCSR{cn: "system:node:" + n3, o: "system:nodes", ips: []string{"10.1.2.3"}}.pem(t)})
	if err := env.Admin.Delete(context.Background(), node); err != nil {
		t.Fatal(err)
	}
	kubeletServingPolicy(t)
	got := env.WaitForCSR(t, c.Name, wait, deniedNaming("spec.kubeletServing"))
	if msg := harness.Condition(got, certificatesv1.CertificateDenied).Message; !strings.Contains(msg, "was not found") {
		t.Errorf("denial %q does not say the Node was not found", msg)
	}
}

func TestKubeAPIServerClientIsDecidedByPolicyAndNeverSigned(t *testing.T) {
	ns := env.Namespace(t)
	group, user := "dev-"+ns, "alice-"+ns
	name := policyName(t)
	env.Create(t, &policyv1alpha1.SignerPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: policyv1alpha1.SignerPolicySpec{
			SignerNames: []string{kubeAPIServerClient},
			Requesters:  policyv1alpha1.Subjects{Groups: []string{group}},
			Usages:      []policyv1alpha1.KeyUsage{"digital signature", "client auth"},
			Allowed:     policyv1alpha1.Allowed{CommonName: []string{"$(requester.username)"}, Organizations: []string{group}},
		},
	})
	p := readyStatus(t, name, metav1.ConditionTrue)
	if !slices.Equal(p.Status.SignerNames, []string{kubeAPIServerClient}) {
		t.Errorf("status.signerNames = %q, want [%s]", p.Status.SignerNames, kubeAPIServerClient)
	}
	for _, o := range p.Status.RBAC {
		if o.Kind == "Role" {
			t.Errorf("generated %s %s/%s: a policy on signer names has no issuer to reference", o.Kind, o.Namespace, o.Name)
		}
	}
	alice := env.User(t, user, group)
	usages := []certificatesv1.KeyUsage{"digital signature", "client auth"}
	subject := func(cn string, o ...string) []byte {
		return testpki.RequestPEM(t, testpki.NewKey(t, testpki.ECDSA), &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn, Organization: o}})
	}

	ok := env.SubmitCSR(t, alice, harness.CSR{SignerName: kubeAPIServerClient, Usages: usages, Request: subject(user, group)})
	env.WaitForCSR(t, ok.Name, wait, approvedBy(name))
	recorded(t, ok, "Approved", name)

	other := env.SubmitCSR(t, alice, harness.CSR{SignerName: kubeAPIServerClient, Usages: usages, Request: subject("bob-"+ns, group)})
	env.WaitForCSR(t, other.Name, wait, deniedNaming("spec.allowed.commonName"))
	deniedRecorded(t, other)

	system := env.SubmitCSR(t, alice, harness.CSR{SignerName: kubeAPIServerClient, Usages: usages, Request: subject("system:kube-scheduler")})
	env.WaitForCSR(t, system.Name, wait, deniedNaming("spec.allowed.commonName"))

	// system:masters in O: the API server's CertificateSubjectRestriction refuses the CSR itself;
	// should it ever let one through, the policy denies it.
	masters := &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "masters-" + ns},
		Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: kubeAPIServerClient, Usages: usages, Request: subject(user, "system:masters")}}
	if err := alice.Create(context.Background(), masters); err == nil {
		t.Cleanup(func() { _ = env.Admin.Delete(context.Background(), masters) })
		env.WaitForCSR(t, masters.Name, wait, deniedNaming("spec.allowed.organizations"))
	} else if !apierrors.IsForbidden(err) {
		t.Fatalf("creating a CSR for system:masters: %v", err)
	}
	neverSigned(t, ok.Name)
}

// A pattern policy decides the CSRs of every signer of its domain, with the approval RBAC it
// generates; CSRs of any other signer get nothing from the operator, no event and no record.
func TestCustomSignerPatternIsDecidedManuallyAndNeverSigned(t *testing.T) {
	ns := env.Namespace(t)
	domain := ns + ".example.com"
	user, approvers := "alice-"+ns, "mesh-admins-"+ns
	name := policyName(t)
	env.Create(t, &policyv1alpha1.SignerPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: policyv1alpha1.SignerPolicySpec{
			SignerNames: []string{domain + "/*"},
			Requesters:  policyv1alpha1.Subjects{Users: []string{user}},
			Approval:    policyv1alpha1.Approval{Mode: policyv1alpha1.ApprovalManual, Approvers: &policyv1alpha1.Subjects{Groups: []string{approvers}}},
			Allowed:     policyv1alpha1.Allowed{DNSNames: []string{"*.mesh.example.com"}},
		},
	})
	readyStatus(t, name, metav1.ConditionTrue)
	alice := env.User(t, user)

	c := env.SubmitCSR(t, alice, harness.CSR{SignerName: domain + "/workloads", Request: dnsCSR(t, "web.mesh.example.com")})
	ev := waitForEvent(t, c, "SignerPolicyEvaluated")
	if !strings.Contains(ev.Note, name) {
		t.Errorf("evaluation event %q does not name the policy", ev.Note)
	}
	recorded(t, c, "ManualReview", name)
	// The requester cannot approve; a named approver can, through the domain/* grant.
	if err := harness.Approve(alice, c.Name); !apierrors.IsForbidden(err) {
		t.Fatalf("approval by the requester: err = %v, want Forbidden", err)
	}
	harness.ApproveEventually(t, 10*time.Second, env.User(t, "bob-"+ns, approvers), c.Name)
	env.WaitForCSR(t, c.Name, wait, harness.HasCondition(certificatesv1.CertificateApproved))
	// A person's approval is on record too, with the policy it concerns.
	recorded(t, c, "Approved", name)
	neverSigned(t, c.Name)

	// A name the policy does not allow is not approved for the approver's lack of attention:
	// the evaluation says what is wrong.
	bad := env.SubmitCSR(t, alice, harness.CSR{SignerName: domain + "/workloads", Request: dnsCSR(t, "web.evil.com")})
	ev = waitForEvent(t, bad, "SignerPolicyEvaluated")
	if !strings.Contains(ev.Note, "spec.allowed.dnsNames") {
		t.Errorf("evaluation event %q does not name spec.allowed.dnsNames", ev.Note)
	}
}

func TestCustomSignerAutomaticPolicyApprovesAndDenies(t *testing.T) {
	ns := env.Namespace(t)
	domain := ns + ".example.com"
	user := "alice-" + ns
	name := policyName(t)
	env.Create(t, &policyv1alpha1.SignerPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: policyv1alpha1.SignerPolicySpec{
			SignerNames: []string{domain + "/workloads"},
			Requesters:  policyv1alpha1.Subjects{Users: []string{user}},
			Allowed:     policyv1alpha1.Allowed{DNSNames: []string{"*.mesh.example.com"}},
		},
	})
	readyStatus(t, name, metav1.ConditionTrue)
	alice := env.User(t, user)
	ok := env.SubmitCSR(t, alice, harness.CSR{SignerName: domain + "/workloads", Request: dnsCSR(t, "web.mesh.example.com")})
	env.WaitForCSR(t, ok.Name, wait, approvedBy(name))
	recorded(t, ok, "Approved", name)
	bad := env.SubmitCSR(t, alice, harness.CSR{SignerName: domain + "/workloads", Request: dnsCSR(t, "web.evil.com")})
	env.WaitForCSR(t, bad.Name, wait, deniedNaming("spec.allowed.dnsNames"))
	deniedRecorded(t, bad)
	neverSigned(t, ok.Name)

	// Another signer of the same domain, which this exact-name policy does not govern.
	env.GrantCSRCreate(t, user)
	ungoverned := env.SubmitCSR(t, alice, harness.CSR{SignerName: domain + "/other", Request: dnsCSR(t, "web.mesh.example.com")})
	time.Sleep(2 * time.Second)
	var got certificatesv1.CertificateSigningRequest
	if err := env.Admin.Get(context.Background(), client.ObjectKeyFromObject(ungoverned), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Status.Conditions) > 0 || len(records.For(got.Name)) > 0 {
		t.Errorf("an ungoverned CSR was touched: conditions %+v, records %+v", got.Status.Conditions, records.For(got.Name))
	}
	var events eventsv1.EventList
	if err := env.Admin.List(context.Background(), &events); err != nil {
		t.Fatal(err)
	}
	for _, e := range events.Items {
		if e.Regarding.Name == got.Name {
			t.Errorf("an ungoverned CSR got event %s: %s", e.Reason, e.Note)
		}
	}
}
