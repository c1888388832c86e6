package venafi_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/venafi"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
	venafitest "github.com/signerpolicy/signer-policy-operator/test/venafi"
)

// wait bounds every wait for the operator; the slowest path (a retried Secret) takes ~2s.
const wait = 30 * time.Second

// Credentials the stand-ins accept. Tests check that none of them ever shows in an event or a
// condition.
const (
	tppUser     = "svc-kubernetes"
	tppPassword = "tpp-e2e-pa55word"
	tppToken    = "tpp-e2e-access-token"
	cloudKey    = "cloud-e2e-api-key"
	wrongSecret = "definitely-wrong-credential"
)

var credentialValues = []string{tppPassword, tppToken, cloudKey, wrongSecret}

// issuer is a Venafi Issuer or ClusterIssuer under test and a requester allowed to use it.
type issuer struct {
	name       string
	signerName string
	// secretNamespace is where its Secrets live.
	secretNamespace string
	requester       client.Client
}

// issuerOptions describe an issuer to create.
type issuerOptions struct {
	cluster bool
	// config is spec.venafi; its credentials Secret is named "venafi-credentials".
	config *cmapi.VenafiIssuer
	// secret is the credentials Secret's data; nil creates no Secret.
	secret map[string]string
}

const credentialsSecret = "venafi-credentials"

func tppConfig(srv *venafitest.TPP) *cmapi.VenafiIssuer {
	return &cmapi.VenafiIssuer{Zone: srv.Zone(), TPP: &cmapi.VenafiTPP{
		URL: srv.URL(), CredentialsRef: cmmeta.LocalObjectReference{Name: credentialsSecret}, CABundle: srv.CABundle(),
	}}
}

func cloudConfig(srv *venafitest.Cloud) *cmapi.VenafiIssuer {
	return &cmapi.VenafiIssuer{Zone: srv.Zone(), Cloud: &cmapi.VenafiCloud{
		URL: srv.URL(), APITokenSecretRef: cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: credentialsSecret}},
	}}
}

func newTPP(t *testing.T, b venafitest.Behaviour, onRetrieve func(venafitest.Enrollment)) *venafitest.TPP {
	return venafitest.NewTPP(t, venafitest.TPPOptions{
		Username: tppUser, Password: tppPassword, AccessToken: tppToken, Behaviour: b, OnRetrieve: onRetrieve, TLS: serving,
	})
}

func newCloud(t *testing.T, b venafitest.Behaviour, onRetrieve func(venafitest.Enrollment)) *venafitest.Cloud {
	return venafitest.NewCloud(t, venafitest.CloudOptions{APIKey: cloudKey, Behaviour: b, OnRetrieve: onRetrieve, TLS: serving})
}

// requestedNames are the names every CSR of the suite asks for, as its common name and DNS name.
var requestedNames = policyv1alpha1.Allowed{CommonName: []string{"*.example.com"}, DNSNames: []string{"*.example.com"}}

// newIssuer creates the issuer, its credentials Secret and a requester that may create CSRs
// and reference it (RBAC made by hand: these tests are about signing, not policies), and a
// Manual policy for the requester, which signing requires; the tests approve by hand.
func newIssuer(t *testing.T, o issuerOptions) issuer {
	t.Helper()
	ns := env.Namespace(t)
	iss := issuer{name: "venafi-" + ns, secretNamespace: ns}
	ref := policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindIssuer, Namespace: ns, Name: iss.name}
	spec := cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{Venafi: o.config}}
	if o.cluster {
		iss.secretNamespace = clusterResourceNamespace
		// The Secret name is shared in the cluster resource namespace, so each ClusterIssuer
		// gets its own.
		secretName := credentialsSecret + "-" + ns
		if o.config.TPP != nil {
			o.config.TPP.CredentialsRef.Name = secretName
		} else {
			o.config.Cloud.APITokenSecretRef.Name = secretName
		}
		env.Create(t, &cmapi.ClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: iss.name}, Spec: spec})
		iss.signerName = "clusterissuers.cert-manager.io/" + iss.name
		ref = policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindClusterIssuer, Name: iss.name}
	} else {
		env.Create(t, &cmapi.Issuer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: iss.name}, Spec: spec})
		iss.signerName = "issuers.cert-manager.io/" + ns + "." + iss.name
	}
	if o.secret != nil {
		env.Create(t, iss.credentials(o.config, o.secret))
	}
	user := "requester-" + ns
	env.GrantCSRCreate(t, user)
	if !o.cluster {
		env.GrantReference(t, ns, iss.name, harness.UserSubject(user))
	}
	iss.requester = newUser(t, user)
	env.GovernWithPolicy(t, harness.ManualPolicy(ref, user, requestedNames))
	return iss
}

// addingUser serialises env.User: envtest's AddUser signs client certificates with a CA whose
// serial counter is not safe for concurrent use, and these tests run in parallel.
var addingUser sync.Mutex

func newUser(t *testing.T, name string) client.Client {
	t.Helper()
	addingUser.Lock()
	defer addingUser.Unlock()
	return env.User(t, name)
}

// credentials is the Secret the issuer's config names, holding data.
func (iss issuer) credentials(config *cmapi.VenafiIssuer, data map[string]string) *corev1.Secret {
	name := credentialsSecret
	if config.TPP != nil {
		name = config.TPP.CredentialsRef.Name
	} else if config.Cloud != nil {
		name = config.Cloud.APITokenSecretRef.Name
	}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: iss.secretNamespace, Name: name}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

// request is a CSR to submit.
type request struct {
	commonName  string
	annotations map[string]string
	expiration  *int32
}

// submit creates the CSR as the issuer's requester and approves it as a person would.
func (iss issuer) submit(t *testing.T, r request) (*certificatesv1.CertificateSigningRequest, crypto.Signer) {
	t.Helper()
	key := testpki.NewKey(t, testpki.ECDSA)
	c := env.SubmitCSR(t, iss.requester, harness.CSR{
		SignerName:  iss.signerName,
		Request:     testpki.RequestPEM(t, key, &x509.CertificateRequest{Subject: pkix.Name{CommonName: r.commonName}, DNSNames: []string{r.commonName}}),
		Annotations: r.annotations, ExpirationSeconds: r.expiration,
	})
	harness.ApproveEventually(t, 10*time.Second, env.Admin, c.Name)
	return c, key
}

// hasPickupID is a WaitForCSR check for the pickup-id annotation.
func hasPickupID(c *certificatesv1.CertificateSigningRequest) error {
	if c.Annotations[venafi.PickupIDAnnotation] == "" {
		return fmt.Errorf("no pickup ID yet; conditions %+v", c.Status.Conditions)
	}
	return nil
}

// verifyIssued checks status.certificate: the leaf carries the CSR's key and the chain leads to
// the service's root.
func verifyIssued(t *testing.T, c *certificatesv1.CertificateSigningRequest, key crypto.Signer, root *x509.Certificate) *x509.Certificate {
	t.Helper()
	chain := testpki.ParseChain(t, c.Status.Certificate)
	leaf := chain[0]
	if !leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public()) {
		t.Error("the certificate does not carry the CSR's key")
	}
	if err := testpki.VerifyChain(chain, root, x509.ExtKeyUsageAny); err != nil {
		t.Errorf("status.certificate does not verify to the service's root: %v", err)
	}
	return leaf
}

// eventsOf lists the events about the named CSR.
func eventsOf(t *testing.T, name string) []eventsv1.Event {
	t.Helper()
	var list eventsv1.EventList
	if err := env.Admin.List(context.Background(), &list); err != nil {
		t.Fatal(err)
	}
	var out []eventsv1.Event
	for _, ev := range list.Items {
		if ev.Regarding.Name == name {
			out = append(out, ev)
		}
	}
	return out
}

// expectNoCredentials fails if any event or condition of the CSR shows a credential value.
func expectNoCredentials(t *testing.T, c *certificatesv1.CertificateSigningRequest) {
	t.Helper()
	var texts []string
	for _, ev := range eventsOf(t, c.Name) {
		texts = append(texts, ev.Note)
	}
	var latest certificatesv1.CertificateSigningRequest
	if err := env.Admin.Get(context.Background(), client.ObjectKey{Name: c.Name}, &latest); err == nil {
		for _, cond := range latest.Status.Conditions {
			texts = append(texts, cond.Message)
		}
	}
	for _, text := range texts {
		for _, v := range credentialValues {
			if strings.Contains(text, v) {
				t.Errorf("a credential value shows in %q", text)
			}
		}
	}
}

// witness records, at every retrieval the server sees, what the CSR object said at that moment.
type witness struct {
	mu sync.Mutex
	// csrs maps the CSRs' DER (as the server received them) to their object names.
	csrs map[string]string
	seen map[string][]string // CSR name → pickup-id annotation at each retrieval
}

func newWitness() *witness { return &witness{csrs: map[string]string{}, seen: map[string][]string{}} }

func (w *witness) watch(name string, csrPEM []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.csrs[string(pemDER(csrPEM))] = name
}

// onRetrieve is the servers' OnRetrieve hook: it reads the CSR through the admin client.
func (w *witness) onRetrieve(e venafitest.Enrollment) {
	w.mu.Lock()
	name, ok := w.csrs[string(pemDER(e.CSR))]
	w.mu.Unlock()
	if !ok {
		return
	}
	var c certificatesv1.CertificateSigningRequest
	annotation := "<unreadable>"
	if err := env.Admin.Get(context.Background(), client.ObjectKey{Name: name}, &c); err == nil {
		annotation = c.Annotations[venafi.PickupIDAnnotation]
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen[name] = append(w.seen[name], annotation)
}

func (w *witness) annotationsAtRetrievals(name string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.seen[name]...)
}
