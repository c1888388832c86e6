package badinput

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/csr"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

const (
	// requesterName is the user the governed policy lets request; every corpus CSR is theirs.
	requesterName = "badinput-requester"
	// governedNamespace holds the CA Issuer under the Automatic policy, reached as
	// governedSigner; ungovernedSigner is a CA ClusterIssuer no policy governs, where only a
	// person approves.
	governedNamespace = "badinput"
	governedSigner    = "issuers.cert-manager.io/" + governedNamespace + ".ca"
	ungovernedSigner  = "clusterissuers.cert-manager.io/badinput-ungoverned"
	// caseLabel marks the corpus's CSRs.
	caseLabel = "badinput.signerpolicy.dev/case"
	// settle bounds how long an outcome may take to appear; it only stops a hung test.
	settle = time.Minute
)

// submission is one CSR of the corpus on its way to the API server.
type submission struct {
	name   string
	csr    *certificatesv1.CertificateSigningRequest
	person bool // a person (the admin) approves it right after it is created
	want   outcome
	err    error // what the create returned
}

// TestBadInputCorpus submits every CSR of the corpus, with a good CSR in the middle of them,
// and checks each documented outcome. The good CSR must be issued within 30 s of its creation
// (a bound generous enough for a loaded machine; the measured figure is logged), showing that
// bad input does not hold up other work.
func TestBadInputCorpus(t *testing.T) {
	installFixtures(t)
	requester := env.User(t, requesterName)
	t.Cleanup(func() {
		_ = env.Admin.DeleteAllOf(context.Background(), &certificatesv1.CertificateSigningRequest{}, client.HasLabels{caseLabel})
	})
	// A first good CSR waits out the policy's RBAC reaching the authorizer, so that every
	// corpus create below is judged on its content alone, in one attempt.
	warmup := env.SubmitCSR(t, requester, harness.CSR{SignerName: governedSigner, Request: plainRequest(t, "warmup.example.com")})
	env.WaitForCSR(t, warmup.Name, settle, hasCertificate)

	// A suffix per run keeps names, and the events that name them, apart when the test runs
	// more than once against the same control plane (-count).
	run := strings.ToLower(rand.Text()[:6])
	subs := corpusSubmissions(t, run)
	var good *certificatesv1.CertificateSigningRequest
	var goodCreated time.Time
	for i, s := range subs {
		if i == len(subs)/2 {
			good = newCSR("good-amid-bad-"+run, governedSigner, plainRequest(t, "good.example.com"))
			goodCreated = time.Now()
			if err := requester.Create(context.Background(), good); err != nil {
				t.Fatalf("creating the good CSR: %v", err)
			}
		}
		s.err = requester.Create(context.Background(), s.csr)
		if s.err == nil && s.person {
			harness.ApproveEventually(t, 10*time.Second, env.Admin, s.csr.Name)
		}
	}
	env.WaitForCSR(t, good.Name, 30*time.Second, hasCertificate)
	t.Logf("the good CSR, submitted after %d bad ones and before %d more, was issued %s after it was created",
		len(subs)/2, len(subs)-len(subs)/2, time.Since(goodCreated).Round(time.Millisecond))

	// Ignored CSRs are checked last, once the operator has had every other CSR to work on.
	for _, s := range subs {
		if s.want.Outcome != ignored {
			t.Run(s.name, func(t *testing.T) { verify(t, s) })
		}
	}
	for _, s := range subs {
		if s.want.Outcome == ignored {
			t.Run(s.name, func(t *testing.T) { verify(t, s) })
		}
	}
}

// installFixtures creates the governed CA Issuer and its Automatic policy, and the ungoverned
// CA ClusterIssuer.
func installFixtures(t *testing.T) {
	t.Helper()
	ensureNamespace(t, governedNamespace)
	root := testpki.NewRootCA(t, testpki.ECDSA, "badinput CA")
	env.Create(t, root.Secret(governedNamespace, "ca"))
	env.Create(t, &cmapi.Issuer{ObjectMeta: metav1.ObjectMeta{Namespace: governedNamespace, Name: "ca"},
		Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: "ca"}}}})
	env.Create(t, &policyv1alpha1.SignerPolicy{ObjectMeta: metav1.ObjectMeta{Name: "badinput-auto"}, Spec: policyv1alpha1.SignerPolicySpec{
		IssuerRef:  &policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindIssuer, Namespace: governedNamespace, Name: "ca"},
		Requesters: policyv1alpha1.Subjects{Users: []string{requesterName}},
		Allowed: policyv1alpha1.Allowed{
			CommonName: []string{"*.example.com"}, DNSNames: []string{"*.example.com"},
			EmailAddresses: []string{"*@example.com"}, IPAddresses: []string{"10.0.0.0/8"},
		},
	}})
	env.Create(t, root.Secret(clusterResourceNamespace, "ungoverned-ca"))
	env.Create(t, &cmapi.ClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: "badinput-ungoverned"},
		Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: "ungoverned-ca"}}}})
}

// ensureNamespace creates a namespace the corpus names and leaves it: envtest runs no namespace
// controller, so a deleted namespace would stay Terminating and a second run could not use it.
func ensureNamespace(t *testing.T, name string) {
	t.Helper()
	err := env.Admin.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// corpusSubmissions reads the CSR, annotation and signerName manifests into CSRs to submit,
// named with the run's suffix.
func corpusSubmissions(t *testing.T, run string) []*submission {
	t.Helper()
	var (
		csrs        []csrCase
		annotations []annotationCase
		names       []signerNameCase
		subs        []*submission
	)
	load(t, "csrs.yaml", &csrs)
	load(t, "annotations.yaml", &annotations)
	load(t, "signernames.yaml", &names)
	for _, c := range csrs {
		var req []byte
		switch {
		case c.File != "":
			req = readPEM(t, c.File)
		case c.Generate.DNSNames > 0:
			req = testpki.RequestPEM(t, ecKey(t), manySANs(c.Generate.DNSNames))
		default:
			req = testpki.RequestPEM(t, ecKey(t), bigCommonName(c.Generate.CommonNameBytes))
		}
		obj := newCSR("csr-"+c.Name+"-"+run, governedSigner, req)
		if c.Usages != nil {
			obj.Spec.Usages = make([]certificatesv1.KeyUsage, len(c.Usages))
			for i, u := range c.Usages {
				obj.Spec.Usages[i] = certificatesv1.KeyUsage(u)
			}
		}
		obj.Spec.ExpirationSeconds = c.ExpirationSeconds
		subs = append(subs, &submission{name: "csr/" + c.Name, csr: obj, want: c.Want})
	}
	for _, c := range annotations {
		for _, person := range []bool{false, true} {
			signerName, want, prefix := governedSigner, c.Governed, "governed"
			if person {
				signerName, want, prefix = ungovernedSigner, c.Person, "person"
			}
			obj := newCSR("annotation-"+prefix+"-"+c.Name+"-"+run, signerName, plainRequest(t, "annotated.example.com"))
			obj.Annotations = map[string]string{c.Key: c.value()}
			subs = append(subs, &submission{name: "annotation/" + prefix + "/" + c.Name, csr: obj, person: person, want: want})
		}
	}
	for _, c := range names {
		obj := newCSR("signername-"+c.Name+"-"+run, c.SignerName, plainRequest(t, "signer.example.com"))
		subs = append(subs, &submission{name: "signername/" + c.Name, csr: obj, want: c.Want})
	}
	return subs
}

func newCSR(name, signerName string, request []byte) *certificatesv1.CertificateSigningRequest {
	return &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{caseLabel: "true"}},
		Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: signerName, Request: request,
			Usages: []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageServerAuth}},
	}
}

// verify waits for the submission's documented outcome.
func verify(t *testing.T, s *submission) {
	t.Helper()
	if s.want.Outcome == refused {
		if s.err == nil {
			t.Fatalf("the API server accepted it, want refused (%s)", s.want.Message)
		}
		expectMessage(t, "refusal", s.err.Error(), s.want)
		t.Logf("refused: %s", tail(s.err.Error()))
		return
	}
	if s.err != nil {
		t.Fatalf("the API server refused it, want %s: %s", s.want.Outcome, shortened(s.err.Error()))
	}
	switch s.want.Outcome {
	case denied, failed:
		typ := certificatesv1.CertificateDenied
		if s.want.Outcome == failed {
			typ = certificatesv1.CertificateFailed
		}
		c := env.WaitForCSR(t, s.csr.Name, settle, terminal)
		cond := harness.Condition(c, typ)
		if cond == nil {
			t.Fatalf("want %s, got conditions %s", typ, describe(c))
		}
		if s.want.Reason != "" && cond.Reason != s.want.Reason {
			t.Errorf("%s with reason %s, want %s: %s", typ, cond.Reason, s.want.Reason, shortened(cond.Message))
		}
		expectMessage(t, string(typ)+" condition", cond.Message, s.want)
		t.Logf("%s/%s: %s", typ, cond.Reason, shortened(cond.Message))
		if len(c.Status.Certificate) > 0 {
			t.Errorf("a %s CSR carries a certificate", typ)
		}
	case event:
		ev := env.WaitForEvent(t, s.csr, s.want.Reason)
		expectMessage(t, ev.Reason+" event", ev.Note, s.want)
		t.Logf("event %s: %s", ev.Reason, shortened(ev.Note))
		var c certificatesv1.CertificateSigningRequest
		if err := env.Admin.Get(context.Background(), client.ObjectKeyFromObject(s.csr), &c); err != nil {
			t.Fatal(err)
		}
		// A person's approval is the test's own write. The operator's may only be the Waiting
		// condition saying the same as the event, for the requester to read: no decision, no
		// failure and no certificate.
		written := len(c.Status.Conditions)
		if s.person && harness.Condition(&c, certificatesv1.CertificateApproved) != nil {
			written--
		}
		if waiting := harness.Condition(&c, csr.ConditionWaiting); waiting != nil {
			written--
			if waiting.Reason != ev.Reason {
				t.Errorf("the CSR says it waits for %s, the event for %s", waiting.Reason, ev.Reason)
			}
		}
		if written > 0 || len(c.Status.Certificate) > 0 {
			t.Errorf("the operator decided or signed a CSR it should only have explained: %s", describe(&c))
		}
	case issued:
		c := env.WaitForCSR(t, s.csr.Name, settle, func(c *certificatesv1.CertificateSigningRequest) error {
			if err := terminal(c); err != nil {
				return err
			}
			return hasCertificate(c)
		})
		if len(c.Status.Certificate) == 0 {
			t.Fatalf("want a certificate, got %s", describe(c))
		}
		leaf := testpki.ParseChain(t, c.Status.Certificate)[0]
		t.Logf("issued: subject %q, %d DNS names, valid %s to %s", shortened(leaf.Subject.CommonName), len(leaf.DNSNames),
			leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339))
	case ignored:
		var c certificatesv1.CertificateSigningRequest
		if err := env.Admin.Get(context.Background(), client.ObjectKeyFromObject(s.csr), &c); err != nil {
			t.Fatal(err)
		}
		if len(c.Status.Conditions) > 0 || len(c.Status.Certificate) > 0 {
			t.Errorf("the operator wrote to a CSR that is not its own: %s", describe(&c))
		}
		if reasons := eventReasons(t, s.csr.Name); len(reasons) > 0 {
			t.Errorf("the operator recorded events %v about a CSR that is not its own", reasons)
		}
	default:
		t.Fatalf("unknown outcome %q", s.want.Outcome)
	}
}

// terminal accepts a CSR that has reached an end state: it has a certificate, or is Denied or
// Failed. A CSR approved but not yet signed is still moving.
func terminal(c *certificatesv1.CertificateSigningRequest) error {
	if len(c.Status.Certificate) > 0 || harness.Condition(c, certificatesv1.CertificateDenied) != nil ||
		harness.Condition(c, certificatesv1.CertificateFailed) != nil {
		return nil
	}
	return fmt.Errorf("not finished: %s", describe(c))
}

func hasCertificate(c *certificatesv1.CertificateSigningRequest) error {
	if len(c.Status.Certificate) == 0 {
		return fmt.Errorf("no certificate: %s", describe(c))
	}
	return nil
}

// expectMessage checks that a message names the field and holds the fragment it should, and is
// no longer than the case allows.
func expectMessage(t *testing.T, what, msg string, want outcome) {
	t.Helper()
	for _, fragment := range []string{want.Field, want.Message} {
		if fragment != "" && !strings.Contains(msg, fragment) {
			t.Errorf("%s does not contain %q: %s", what, fragment, shortened(msg))
		}
	}
	if want.MaxMessageBytes > 0 && len(msg) > want.MaxMessageBytes {
		t.Errorf("%s is %d bytes, want at most %d: %s", what, len(msg), want.MaxMessageBytes, shortened(msg))
	}
}

func eventReasons(t *testing.T, name string) []string {
	t.Helper()
	var list eventsv1.EventList
	if err := env.Admin.List(context.Background(), &list); err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, ev := range list.Items {
		if ev.Regarding.Name == name {
			reasons = append(reasons, ev.Reason)
		}
	}
	return reasons
}

func describe(c *certificatesv1.CertificateSigningRequest) string {
	var parts []string
	for _, cond := range c.Status.Conditions {
		parts = append(parts, fmt.Sprintf("%s/%s: %s", cond.Type, cond.Reason, shortened(cond.Message)))
	}
	return fmt.Sprintf("[%s] certificate %d bytes", strings.Join(parts, "; "), len(c.Status.Certificate))
}

// tail is the end of an API server refusal, where it says why: the start echoes the value.
func tail(s string) string {
	const limit = 160
	if len(s) <= limit {
		return s
	}
	return "..." + s[len(s)-limit:]
}

// shortened keeps test output readable: the API server echoes a refused spec.request in full.
func shortened(s string) string {
	const limit = 400
	if len(s) <= limit {
		return s
	}
	return fmt.Sprintf("%s...(%d bytes)...%s", s[:limit/2], len(s), s[len(s)-limit/2:])
}
