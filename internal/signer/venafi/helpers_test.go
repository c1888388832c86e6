package venafi_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/venafi"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
	venafitest "github.com/signerpolicy/signer-policy-operator/test/venafi"
)

const (
	namespace   = "team-a"
	credentials = "venafi-credentials"
	minPoll     = 10 * time.Millisecond
	maxPoll     = 80 * time.Millisecond
	retryAfter  = 3 * time.Second
	password    = "tpp-pa55word-value"
	accessToken = "tpp-access-token-value"
	apiKey      = "cloud-api-key-value"
)

// fixture is one CSR on its way through the signer, with the fake API server it lives in.
type fixture struct {
	t      *testing.T
	api    client.Client
	signer *venafi.Signer
	csr    *certificatesv1.CertificateSigningRequest
	key    crypto.Signer
	req    signer.Request
}

type fixtureOptions struct {
	issuer      *cmapi.Issuer
	secrets     []*corev1.Secret
	annotations map[string]string
	commonName  string
	duration    time.Duration
	clock       clock.PassiveClock
	rootCAs     *x509.CertPool
}

func newFixture(t *testing.T, o fixtureOptions) *fixture {
	t.Helper()
	if o.commonName == "" {
		o.commonName = "app.example.com"
	}
	if o.duration == 0 {
		o.duration = 36 * time.Hour
	}
	key := testpki.NewKey(t, testpki.ECDSA)
	requestPEM := testpki.RequestPEM(t, key, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: o.commonName}, DNSNames: []string{o.commonName},
	})
	csr := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "csr-" + o.commonName, UID: types.UID("uid-" + o.commonName), Annotations: o.annotations},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request: requestPEM, SignerName: "issuers.cert-manager.io/" + namespace + "." + o.issuer.Name,
			Usages: []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth},
		},
	}
	objs := []client.Object{csr.DeepCopy()}
	for _, s := range o.secrets {
		objs = append(objs, s)
	}
	api := fake.NewClientBuilder().WithObjects(objs...).Build()
	s, err := venafi.New(venafi.Options{
		APIReader: api, Clock: o.clock, MinPoll: minPoll, MaxPoll: maxPoll, RetryAfter: retryAfter, RootCAs: o.rootCAs,
		HTTPTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, api: api, signer: s, csr: csr, key: key}
	f.req = signer.Request{
		CSR: csr, Parsed: testpki.ParseRequest(t, requestPEM), Issuer: o.issuer, ResourceNamespace: namespace, Duration: o.duration,
		Usages: csr.Spec.Usages, Progress: progress{api: api, csr: csr},
	}
	return f
}

// sign calls the signer once, as a reconcile would.
func (f *fixture) sign() (signer.PEMChain, error) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return f.signer.Sign(ctx, f.req)
}

// progress stores annotations the way the signing controller does: a merge patch of the CSR
// it holds, which then reflects what the API server stored.
type progress struct {
	api client.Client
	csr *certificatesv1.CertificateSigningRequest
}

func (p progress) Annotate(ctx context.Context, key, value string) error {
	patch := client.MergeFrom(p.csr.DeepCopy())
	if p.csr.Annotations == nil {
		p.csr.Annotations = map[string]string{}
	}
	p.csr.Annotations[key] = value
	return p.api.Patch(ctx, p.csr, patch)
}

func tppIssuer(srv *venafitest.TPP, secret string) *cmapi.Issuer {
	return &cmapi.Issuer{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "tpp"},
		Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{Venafi: &cmapi.VenafiIssuer{
			Zone: srv.Zone(),
			TPP:  &cmapi.VenafiTPP{URL: srv.URL(), CredentialsRef: cmmeta.LocalObjectReference{Name: secret}, CABundle: srv.CABundle()},
		}}},
	}
}

func cloudIssuer(srv *venafitest.Cloud, secret string) *cmapi.Issuer {
	return &cmapi.Issuer{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "cloud"},
		Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{Venafi: &cmapi.VenafiIssuer{
			Zone:  srv.Zone(),
			Cloud: &cmapi.VenafiCloud{URL: srv.URL(), APITokenSecretRef: cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: secret}}},
		}}},
	}
}

func secret(data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: credentials}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func passwordSecret() *corev1.Secret {
	return secret(map[string]string{"username": "svc-k8s", "password": password})
}

func cloudPool(srv *venafitest.Cloud) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(srv.CABundle())
	return pool
}
