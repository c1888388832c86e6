package acme_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"strings"
	"testing"
	"time"

	cmacme "github.com/cert-manager/cert-manager/pkg/apis/acme/v1"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"github.com/cert-manager/cert-manager/pkg/util/pki"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
	"github.com/signerpolicy/signer-policy-operator/test/pebble"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

// issueTimeout bounds one issuance; Pebble validates in well under a second, so this only
// matters when something is wrong.
const issueTimeout = 60 * time.Second

// acmeIssuer is an ACME Issuer or ClusterIssuer of a test and a requester allowed to use it.
type acmeIssuer struct {
	signerName string
	// secretNamespace is where its Secrets live.
	secretNamespace string
	spec            *cmacme.ACMEIssuer
	requester       client.Client
	// user is the requester's user name.
	user   string
	server *pebble.Server
	// key locates the Issuer (no namespace for a ClusterIssuer).
	key client.ObjectKey
}

// suiteNames are the names the suite's tests request: names in subdomains of acme.test, which
// pebble-challtestsrv resolves to the operator's challenge listener; wildcards under
// dns.acme.test, validated over DNS-01; and the loopback address. A unique label keeps each
// test's names its own, so the policies can share one allowance.
var suiteNames = policyv1alpha1.Allowed{
	CommonName:  []string{"*.acme.test"},
	DNSNames:    []string{"*.acme.test", "*.*.acme.test", "*.*.dns.acme.test"},
	IPAddresses: []string{"127.0.0.1/32"},
}

// unique returns a DNS label no other test uses.
func unique() string {
	return strings.ToLower(rand.Text()[:10])
}

// baseSpec is an ACME issuer of the main Pebble, trusted through caBundle, with an account key
// the signer generates.
func baseSpec(server *pebble.Server, solvers ...cmacme.ACMEChallengeSolver) *cmacme.ACMEIssuer {
	return &cmacme.ACMEIssuer{
		Server: server.DirectoryURL, CABundle: server.CABundle, Email: "ops@acme.test",
		PrivateKey: cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: "acme-account-" + unique()}},
		Solvers:    solvers,
	}
}

// httpSolver is an http01.ingress solver; routing goes nowhere in envtest, and Pebble connects
// to the challenge listener directly, but the Ingress is created and deleted for real.
func httpSolver() cmacme.ACMEChallengeSolver {
	return cmacme.ACMEChallengeSolver{HTTP01: &cmacme.ACMEChallengeSolverHTTP01{Ingress: &cmacme.ACMEChallengeSolverHTTP01Ingress{}}}
}

// newIssuer creates the Issuer (or, with cluster set, ClusterIssuer) with spec and a requester
// with the RBAC to submit CSRs and reference it, and governs it with a Manual policy allowing the
// requester suiteNames, so the test's hand approval is what gets its CSRs to the signer.
func newIssuer(t *testing.T, spec *cmacme.ACMEIssuer, cluster bool) *acmeIssuer {
	t.Helper()
	iss := newUngovernedIssuer(t, spec, cluster)
	env.GovernWithPolicy(t, iss.policy(suiteNames))
	return iss
}

// newUngovernedIssuer is newIssuer without a policy.
func newUngovernedIssuer(t *testing.T, spec *cmacme.ACMEIssuer, cluster bool) *acmeIssuer {
	t.Helper()
	ns := env.Namespace(t)
	name := "acme-" + unique()
	iss := &acmeIssuer{spec: spec, server: peers.pebble, key: client.ObjectKey{Namespace: ns, Name: name}}
	if spec.Server == peers.eabPebble.DirectoryURL {
		iss.server = peers.eabPebble
	}
	issuerSpec := cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{ACME: spec}}
	if cluster {
		env.Create(t, &cmapi.ClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: issuerSpec})
		iss.signerName, iss.secretNamespace = "clusterissuers.cert-manager.io/"+name, clusterResourceNamespace
		iss.key.Namespace = ""
	} else {
		env.Create(t, &cmapi.Issuer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: issuerSpec})
		iss.signerName, iss.secretNamespace = "issuers.cert-manager.io/"+ns+"."+name, ns
	}
	iss.user = "requester-" + unique()
	env.GrantCSRCreate(t, iss.user)
	if !cluster {
		env.GrantReference(t, ns, name, harness.UserSubject(iss.user))
	}
	iss.requester = env.User(t, iss.user)
	return iss
}

// policy is a Manual policy letting the issuer's requester request allowed from it.
func (iss *acmeIssuer) policy(allowed policyv1alpha1.Allowed) *policyv1alpha1.SignerPolicy {
	ref := policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindIssuer, Namespace: iss.key.Namespace, Name: iss.key.Name}
	if iss.key.Namespace == "" {
		ref.Kind = policyv1alpha1.IssuerKindClusterIssuer
	}
	return harness.ManualPolicy(ref, iss.user, allowed)
}

// updateIssuer writes iss.spec to the issuer, for settings that need the issuer's namespace
// to exist first (a solver's Secret).
func updateIssuer(t *testing.T, iss *acmeIssuer) {
	t.Helper()
	harness.Eventually(t, 10*time.Second, func() error {
		var obj cmapi.GenericIssuer = &cmapi.Issuer{}
		if iss.key.Namespace == "" {
			obj = &cmapi.ClusterIssuer{}
		}
		if err := env.Admin.Get(context.Background(), iss.key, obj); err != nil {
			return err
		}
		obj.GetSpec().ACME = iss.spec
		return env.Admin.Update(context.Background(), obj)
	})
}

// secret creates a Secret for the issuer with one value.
func (iss *acmeIssuer) secret(t *testing.T, key, value string) cmmeta.SecretKeySelector {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: iss.secretNamespace, Name: "solver-" + unique()}, Data: map[string][]byte{key: []byte(value)}}
	env.Create(t, s)
	return cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: s.Name}, Key: key}
}

// request is a CSR to submit.
type request struct {
	tmpl        x509.CertificateRequest
	annotations map[string]string
}

// submit sends the CSR as the requester and approves it as an administrator would.
func (iss *acmeIssuer) submit(t *testing.T, r request) (*certificatesv1.CertificateSigningRequest, crypto.Signer) {
	t.Helper()
	key := testpki.NewKey(t, testpki.ECDSA)
	c := env.SubmitCSR(t, iss.requester, harness.CSR{SignerName: iss.signerName, Request: testpki.RequestPEM(t, key, &r.tmpl), Annotations: r.annotations})
	harness.ApproveEventually(t, 10*time.Second, env.Admin, c.Name)
	return c, key
}

// issued is a WaitForCSR check for a delivered certificate; a Failed CSR stops the wait with
// its reason.
func issued(t *testing.T) func(*certificatesv1.CertificateSigningRequest) error {
	return func(c *certificatesv1.CertificateSigningRequest) error {
		if cond := harness.Condition(c, certificatesv1.CertificateFailed); cond != nil {
			t.Fatalf("CSR %s failed: %s: %s", c.Name, cond.Reason, cond.Message)
		}
		if len(c.Status.Certificate) == 0 {
			return fmt.Errorf("CSR %s has no certificate yet", c.Name)
		}
		return nil
	}
}

// waitIssued waits for the CSR's certificate; on a timeout it reports the CSR's events, which
// say where the order got stuck.
func waitIssued(t *testing.T, c *certificatesv1.CertificateSigningRequest) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	return waitIssuedWatching(t, c, 100*time.Millisecond, func() {})
}

// waitIssuedWatching is waitIssued for a test that checks something all along the way: it calls
// watch before every look at the CSR, once each interval.
func waitIssuedWatching(t *testing.T, c *certificatesv1.CertificateSigningRequest, interval time.Duration, watch func()) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	check := issued(t)
	deadline := time.Now().Add(issueTimeout)
	for {
		watch()
		var got certificatesv1.CertificateSigningRequest
		err := env.Admin.Get(context.Background(), client.ObjectKeyFromObject(c), &got)
		if err == nil {
			if err = check(&got); err == nil {
				return &got
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no certificate after %s: %v; events: %s", issueTimeout, err, eventsOf(c.Name))
		}
		time.Sleep(interval)
	}
}

// eventsOf lists the reasons and messages of the events about the named object.
func eventsOf(name string) string {
	var list eventsv1.EventList
	if err := env.Admin.List(context.Background(), &list); err != nil {
		return err.Error()
	}
	var out []string
	for _, ev := range list.Items {
		if ev.Regarding.Name == name {
			out = append(out, ev.Reason+": "+ev.Note)
		}
	}
	return strings.Join(out, " | ")
}

// verifyIssued checks that the chain's leaf carries the CSR's key and the requested names and
// chains to the Pebble root, through the intermediates delivered with it.
func verifyIssued(t *testing.T, c *certificatesv1.CertificateSigningRequest, key crypto.Signer, root *x509.Certificate, r request) []*x509.Certificate {
	t.Helper()
	chain, err := pki.DecodeX509CertificateChainBytes(c.Status.Certificate)
	if err != nil {
		t.Fatalf("decoding status.certificate: %v", err)
	}
	leaf := chain[0]
	if ok, err := pki.PublicKeyMatchesCertificate(key.Public(), leaf); err != nil || !ok {
		t.Fatalf("the certificate does not carry the CSR's public key (%v)", err)
	}
	if err := testpki.VerifyChain(chain, root, x509.ExtKeyUsageAny); err != nil {
		t.Fatalf("the certificate does not chain to Pebble's root %q: %v", root.Subject.CommonName, err)
	}
	for _, name := range r.tmpl.DNSNames {
		if !contains(leaf.DNSNames, name) {
			t.Errorf("DNS names %v lack %s", leaf.DNSNames, name)
		}
	}
	for _, ip := range r.tmpl.IPAddresses {
		found := false
		for _, got := range leaf.IPAddresses {
			found = found || got.Equal(ip)
		}
		if !found {
			t.Errorf("IP addresses %v lack %s", leaf.IPAddresses, ip)
		}
	}
	return chain
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// root returns root i of the Pebble the issuer uses.
func (iss *acmeIssuer) root(t *testing.T, i int) *x509.Certificate {
	t.Helper()
	r, err := iss.server.Root(context.Background(), i)
	if err != nil {
		t.Fatalf("fetching Pebble's root %d: %v", i, err)
	}
	return r
}

// accountThumbprint is the thumbprint of the account key the signer generated for the issuer.
func (iss *acmeIssuer) accountThumbprint(t *testing.T) string {
	t.Helper()
	var s corev1.Secret
	key := client.ObjectKey{Namespace: iss.secretNamespace, Name: iss.spec.PrivateKey.Name}
	if err := env.Admin.Get(context.Background(), key, &s); err != nil {
		t.Fatalf("reading the account key Secret: %v", err)
	}
	k, err := pki.DecodePrivateKeyBytes(s.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		t.Fatalf("decoding the account key: %v", err)
	}
	return pebble.Thumbprint(k.Public())
}
