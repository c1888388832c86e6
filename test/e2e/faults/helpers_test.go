package faults

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/audit"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

// runLabel marks the CSRs of one test so that it lists and deletes only its own.
const runLabel = "faults.signerpolicy.dev/run"

// policyReadyTimeout bounds the wait for a tenant's policy to come into force. CSRs submitted
// earlier would only wait for it, but waiting keeps each test's timeline readable.
const policyReadyTimeout = 60 * time.Second

// tenant is a CA Issuer in its own namespace under an Automatic SignerPolicy that lets one user
// request any name under example.com.
type tenant struct {
	ns, issuer, signerName, policy, user string
	root                                 *testpki.CA
}

// newTenant creates the Issuer and its policy but not the CA's Secret, so that a test can hold
// approved CSRs pending until it calls installCA.
func newTenant(t *testing.T, e *harness.Env, user string) *tenant {
	t.Helper()
	ns := e.Namespace(t)
	tn := &tenant{ns: ns, issuer: "ca", user: user, policy: "faults-" + ns,
		root: testpki.NewRootCA(t, testpki.ECDSA, "faults CA "+ns)}
	ref := policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindIssuer, Namespace: ns, Name: tn.issuer}
	tn.signerName = ref.SignerName()
	e.Create(t, &cmapi.Issuer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: tn.issuer},
		Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: "ca"}}}})
	e.Create(t, &policyv1alpha1.SignerPolicy{ObjectMeta: metav1.ObjectMeta{Name: tn.policy}, Spec: policyv1alpha1.SignerPolicySpec{
		IssuerRef:  &ref,
		Requesters: policyv1alpha1.Subjects{Users: []string{user}},
		Allowed:    policyv1alpha1.Allowed{DNSNames: []string{"*.example.com"}},
	}})
	return tn
}

// installCA creates the Secret holding the Issuer's CA key pair.
func (tn *tenant) installCA(t *testing.T, e *harness.Env) {
	t.Helper()
	e.Create(t, tn.root.Secret(tn.ns, "ca"))
}

// requestPEM is a fresh PKCS#10 request, with its own key, for one name the tenant's policy allows.
func requestPEM(t testing.TB, host string) []byte {
	t.Helper()
	return testpki.RequestPEM(t, testpki.NewKey(t, testpki.ECDSA), &x509.CertificateRequest{DNSNames: []string{host + ".example.com"}})
}

func newCSR(name, signerName, run string, request []byte) *certificatesv1.CertificateSigningRequest {
	return &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{runLabel: run}},
		Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: signerName, Request: request,
			Usages: []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageServerAuth}},
	}
}

// createCSR creates c as the requester. It retries while the policy's freshly generated RBAC
// reaches the API server's authorizer, and while the API server is briefly unreachable; a create
// whose response was lost but which landed shows up as AlreadyExists and counts as created. It
// returns errors instead of failing the test so that it can run in a goroutine.
func createCSR(ctx context.Context, as client.Client, c *certificatesv1.CertificateSigningRequest) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := as.Create(ctx, c.DeepCopy())
		if err == nil || apierrors.IsAlreadyExists(err) {
			return nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("creating CSR %s: %w", c.Name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// deleteRun removes the test's CSRs, which are cluster scoped and outlive its namespace.
func deleteRun(t *testing.T, e *harness.Env, run string) {
	t.Cleanup(func() {
		_ = e.Admin.DeleteAllOf(context.Background(), &certificatesv1.CertificateSigningRequest{}, client.MatchingLabels{runLabel: run})
	})
}

// done reports whether the operator has finished with a CSR: issued, or refused.
func done(c *certificatesv1.CertificateSigningRequest) bool {
	return refusal(c) != nil || len(c.Status.Certificate) > 0
}

// refusal returns a Failed or Denied condition of the CSR, which none of these tests may see.
func refusal(c *certificatesv1.CertificateSigningRequest) *certificatesv1.CertificateSigningRequestCondition {
	for _, typ := range []certificatesv1.RequestConditionType{certificatesv1.CertificateFailed, certificatesv1.CertificateDenied} {
		if cond := harness.Condition(c, typ); cond != nil {
			return cond
		}
	}
	return nil
}

// listRun returns the run's CSRs and how many of them are done.
func listRun(e *harness.Env, run string) ([]certificatesv1.CertificateSigningRequest, int, error) {
	var list certificatesv1.CertificateSigningRequestList
	if err := e.Admin.List(context.Background(), &list, client.MatchingLabels{runLabel: run}); err != nil {
		return nil, 0, err
	}
	n := 0
	for i := range list.Items {
		if done(&list.Items[i]) {
			n++
		}
	}
	return list.Items, n, nil
}

// waitDone waits until at least want of the run's CSRs are done and returns them. A refused CSR
// ends the wait at once: it can never become issued, and its condition says why.
func waitDone(t *testing.T, e *harness.Env, run string, want int, timeout time.Duration) []certificatesv1.CertificateSigningRequest {
	t.Helper()
	return waitDoneGuarded(t, e, run, want, timeout, func() {})
}

// waitDoneGuarded is waitDone that calls guard before each look, so a test can end the wait at
// once when something it depends on (an operator process) is gone.
func waitDoneGuarded(t *testing.T, e *harness.Env, run string, want int, timeout time.Duration, guard func()) []certificatesv1.CertificateSigningRequest {
	t.Helper()
	var items []certificatesv1.CertificateSigningRequest
	harness.Eventually(t, timeout, func() error {
		guard()
		var (
			n   int
			err error
		)
		if items, n, err = listRun(e, run); err != nil {
			return err
		}
		for i := range items {
			if cond := refusal(&items[i]); cond != nil {
				t.Fatalf("CSR %s is %s (%s): %s", items[i].Name, cond.Type, cond.Reason, cond.Message)
			}
		}
		if n < want {
			return fmt.Errorf("%d of %d CSRs done", n, want)
		}
		return nil
	})
	return items
}

// verifyIssuedOnce checks what "exactly once" means for a CSR, using the governance records as
// the witness because the API server keeps no history: the CSR was approved once and never
// Failed or Denied; its certificate chains to the tenant's CA; and the process's records hold
// exactly one Approved and one Issued entry for this CSR (by UID), the Issued one naming the
// serial in status.certificate. A record lost or written twice by one process is as much a fault
// as a certificate lost or issued twice: the record is the durable trail. The records follow the
// writes they report, so they are waited for.
func verifyIssuedOnce(t *testing.T, c *certificatesv1.CertificateSigningRequest, sink *harness.AuditSink, root *testpki.CA) {
	t.Helper()
	verifyIssued(t, c, sink, root, true)
}

// verifyIssuedAtLeastOnce is verifyIssuedOnce for the records of several processes in turn: a
// process that starts writes again the records of the CSRs that exist, so each record may come
// more than once, every copy with the same recordID and the same content.
func verifyIssuedAtLeastOnce(t *testing.T, c *certificatesv1.CertificateSigningRequest, sink *harness.AuditSink, root *testpki.CA) {
	t.Helper()
	verifyIssued(t, c, sink, root, false)
}

func verifyIssued(t *testing.T, c *certificatesv1.CertificateSigningRequest, sink *harness.AuditSink, root *testpki.CA, once bool) {
	t.Helper()
	if cond := refusal(c); cond != nil {
		t.Errorf("CSR %s is %s (%s): %s", c.Name, cond.Type, cond.Reason, cond.Message)
		return
	}
	if n := approvals(c); n != 1 {
		t.Errorf("CSR %s has %d Approved conditions, want 1", c.Name, n)
	}
	if len(c.Status.Certificate) == 0 {
		t.Errorf("CSR %s has no certificate", c.Name)
		return
	}
	leaf := testpki.ParseChain(t, c.Status.Certificate)[0]
	if err := leaf.CheckSignatureFrom(root.Cert); err != nil {
		t.Errorf("CSR %s: certificate not signed by the tenant's CA: %v", c.Name, err)
	}
	serial := leaf.SerialNumber.Text(16)
	var issued []audit.Record
	harness.Eventually(t, 10*time.Second, func() error {
		count := map[string]int{}
		issued = nil
		for _, r := range sink.For(c.Name) {
			if r.CSRUID != string(c.UID) {
				continue
			}
			count[r.Event]++
			if r.Event == audit.EventIssued {
				issued = append(issued, r)
			}
		}
		if count[audit.EventApproved] == 0 || count[audit.EventIssued] == 0 || count[audit.EventFailed] != 0 || count[audit.EventDenied] != 0 {
			return fmt.Errorf("CSR %s: governance records %v, want an Approved and an Issued one, no Failed or Denied", c.Name, count)
		}
		if once && (count[audit.EventApproved] != 1 || count[audit.EventIssued] != 1) {
			return fmt.Errorf("CSR %s: governance records %v, want exactly one Approved and one Issued", c.Name, count)
		}
		return nil
	})
	for _, r := range sink.For(c.Name) {
		if r.CSRUID == string(c.UID) && r.RecordID != audit.RecordID(r.CSRUID, r.Event) {
			t.Errorf("CSR %s: %s record with recordID %s, want %s", c.Name, r.Event, r.RecordID, audit.RecordID(r.CSRUID, r.Event))
		}
	}
	for _, r := range issued {
		if r.Certificate == nil || r.Certificate.Serial != serial {
			t.Errorf("CSR %s: Issued record names certificate %+v, status holds serial %s", c.Name, r.Certificate, serial)
		}
	}
}

// eventReasons lists the reasons of the events about a CSR, for the log.
func eventReasons(e *harness.Env, name string) []string {
	var list eventsv1.EventList
	if err := e.Admin.List(context.Background(), &list); err != nil {
		return []string{err.Error()}
	}
	var reasons []string
	for _, ev := range list.Items {
		if ev.Regarding.Name == name {
			reasons = append(reasons, ev.Reason)
		}
	}
	return reasons
}

// roundTripFunc lets a test put itself between the operator and the API server.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// withTransport is a copy of cfg whose requests pass through wrap. The operator's manager built
// from it reads and writes through the wrapper; the test's own clients do not.
func withTransport(cfg *rest.Config, wrap func(next http.RoundTripper) http.RoundTripper) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.WrapTransport = wrap
	return c
}

// csrRequest reports whether r addresses the named CSR, and which subresource ("" for the
// object itself).
func csrRequest(r *http.Request, name string) (subresource string, ok bool) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/apis/certificates.k8s.io/v1/certificatesigningrequests/"+name)
	if !ok || (rest != "" && !strings.HasPrefix(rest, "/")) {
		return "", false
	}
	return strings.TrimPrefix(rest, "/"), true
}

// internalError is the response of an API server that failed a request, as client-go sees it.
func internalError(r *http.Request) *http.Response {
	const body = `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"injected fault","reason":"InternalError","code":500}`
	if r.Body != nil {
		_ = r.Body.Close()
	}
	return &http.Response{
		StatusCode: http.StatusInternalServerError, Status: "500 Internal Server Error", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": []string{"application/json"}}, Body: io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)), Request: r,
	}
}

// submission is a stream of CSRs created one after another in the background, while a test
// stops or kills the operator underneath it.
type submission struct {
	created atomic.Int64
	done    chan error
	began   time.Time
}

// tenantWithCA is a tenant for user with its CA installed, and the run its CSRs are named after
// (deleted when the test ends). Its policy comes into force once an operator runs.
func tenantWithCA(t *testing.T, user string) (*tenant, string) {
	t.Helper()
	tn := newTenant(t, env, user)
	tn.installCA(t, env)
	run := tn.ns
	deleteRun(t, env, run)
	return tn, run
}

// tenantInForce is tenantWithCA for a test the running operator serves: it waits until the
// policy is in force, and returns a client acting as user too.
func tenantInForce(t *testing.T, user string) (*tenant, client.Client, string) {
	t.Helper()
	tn, run := tenantWithCA(t, user)
	env.WaitForPolicyReady(t, tn.policy, policyReadyTimeout)
	return tn, env.User(t, user), run
}

// submitInBackground puts a tenant's CA Issuer and policy in force for user, then creates total
// CSRs as that user, one after another, in the background. The run is named after the tenant's
// namespace; its CSRs are deleted when the test ends.
func submitInBackground(t *testing.T, user string, total int) (*tenant, string, *submission) {
	t.Helper()
	tn, requester, run := tenantInForce(t, user)
	// Keys and requests are made up front so that submission runs at the API server's pace.
	requests := make([][]byte, total)
	for i := range requests {
		requests[i] = requestPEM(t, fmt.Sprintf("host-%03d", i))
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s := &submission{done: make(chan error, 1), began: time.Now()}
	go func() {
		for i, req := range requests {
			if err := createCSR(ctx, requester, newCSR(fmt.Sprintf("%s-%03d", run, i), tn.signerName, run, req)); err != nil {
				s.done <- err
				return
			}
			s.created.Add(1)
		}
		s.done <- nil
	}()
	return tn, run, s
}

// approvals counts the CSR's Approved conditions; a decision made twice would show as two.
func approvals(c *certificatesv1.CertificateSigningRequest) int {
	n := 0
	for _, cond := range c.Status.Conditions {
		if cond.Type == certificatesv1.CertificateApproved {
			n++
		}
	}
	return n
}
