package venafi_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Venafi/vcert/v5/pkg/certificate"
	"github.com/Venafi/vcert/v5/pkg/endpoint"
	"github.com/Venafi/vcert/v5/pkg/venafi/cloud"
	"github.com/Venafi/vcert/v5/pkg/venafi/tpp"

	venafitest "github.com/signerpolicy/signer-policy-operator/test/venafi"
)

// These tests drive the stand-ins with vcert's own connectors, the client they have to satisfy.

func httpClient(caPEM []byte) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
}

func newCSR(t *testing.T, cn string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func vcertRequest(t *testing.T, csrPEM []byte, cn string, validity time.Duration, fields ...certificate.CustomField) *certificate.Request {
	t.Helper()
	req := &certificate.Request{CsrOrigin: certificate.UserProvidedCSR, FriendlyName: cn, ValidityDuration: &validity,
		ChainOption: certificate.ChainOptionRootLast, CustomFields: fields}
	req.Subject.CommonName = cn
	if err := req.SetCSR(csrPEM); err != nil {
		t.Fatal(err)
	}
	return req
}

func TestTPPSpeaksVcert(t *testing.T) {
	srv := venafitest.NewTPP(t, venafitest.TPPOptions{Username: "admin", Password: "s3cret", Behaviour: venafitest.Behaviour{PendingPolls: 2}})
	c, err := tpp.NewConnector(srv.URL(), srv.Zone(), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.SetHTTPClient(httpClient(srv.CABundle()))
	if _, err := c.GetRefreshToken(&endpoint.Authentication{User: "admin", Password: "wrong"}); err == nil {
		t.Fatal("a wrong password was accepted")
	}
	tok, err := c.GetRefreshToken(&endpoint.Authentication{User: "admin", Password: "s3cret", ClientId: "test", Scope: "certificate:manage"})
	if err != nil {
		t.Fatalf("GetRefreshToken: %v", err)
	}
	if err := c.Authenticate(&endpoint.Authentication{AccessToken: tok.Access_token}); err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if _, err := c.ReadZoneConfiguration(); err != nil {
		t.Fatalf("ReadZoneConfiguration: %v", err)
	}
	csrPEM := newCSR(t, "web.example.com")
	req := vcertRequest(t, csrPEM, "web.example.com", 48*time.Hour,
		certificate.CustomField{Type: certificate.CustomFieldOrigin, Value: "test"},
		certificate.CustomField{Type: certificate.CustomFieldPlain, Name: "team", Value: "a"},
		certificate.CustomField{Type: certificate.CustomFieldPlain, Name: "team", Value: "b"})
	if err := c.ResetCertificate(req, false); !tpp.IsCertNotFound(err) {
		t.Fatalf("reset of an unknown certificate: %v, want not found", err)
	}
	pickupID, err := c.RequestCertificate(req)
	if err != nil {
		t.Fatalf("RequestCertificate: %v", err)
	}
	if want := `\VED\Policy\Kubernetes\web.example.com`; pickupID != want {
		t.Errorf("pickup ID %q, want %q", pickupID, want)
	}
	retrieve := vcertRequest(t, csrPEM, "web.example.com", 0)
	retrieve.PickupID = pickupID
	for i := range 2 {
		if _, err := c.RetrieveCertificate(retrieve); !errors.As(err, &endpoint.ErrCertificatePending{}) {
			t.Fatalf("retrieve %d: %v, want pending", i, err)
		}
	}
	pems, err := c.RetrieveCertificate(retrieve)
	if err != nil {
		t.Fatalf("retrieve: %v", err)
	}
	if len(pems.Chain) != 2 {
		t.Errorf("chain has %d certificates, want intermediate and root", len(pems.Chain))
	}
	e, _ := srv.EnrollmentFor(csrPEM)
	if got := e.CustomFields["team"]; len(got) != 2 || got[0] != "a" || got[1] != "b" || e.Origin != "test" {
		t.Errorf("custom fields %v origin %q", e.CustomFields, e.Origin)
	}
	if d := e.RequestedValidity - 48*time.Hour; d.Abs() > 2*time.Second {
		t.Errorf("requested validity %s, want 48h", e.RequestedValidity)
	}
	if n := srv.RequestsFor(csrPEM); n != 1 {
		t.Errorf("%d requests for the CSR, want 1", n)
	}
}

func TestTPPRejectionIsInTheReasonPhrase(t *testing.T) {
	srv := venafitest.NewTPP(t, venafitest.TPPOptions{AccessToken: "tok", Behaviour: venafitest.Behaviour{Reject: "CA declined the request"}})
	c, err := tpp.NewConnector(srv.URL(), srv.Zone(), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.SetHTTPClient(httpClient(srv.CABundle()))
	if _, err := c.VerifyAccessToken(&endpoint.Authentication{AccessToken: "tok"}); err != nil {
		t.Fatalf("VerifyAccessToken: %v", err)
	}
	csrPEM := newCSR(t, "rejected.example.com")
	pickupID, err := c.RequestCertificate(vcertRequest(t, csrPEM, "rejected.example.com", time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	retrieve := vcertRequest(t, csrPEM, "rejected.example.com", 0)
	retrieve.PickupID = pickupID
	_, err = c.RetrieveCertificate(retrieve)
	if err == nil || !strings.Contains(err.Error(), "has encountered an error while processing, Status: CA declined the request") {
		t.Fatalf("retrieve of a rejected enrollment: %v", err)
	}
}

func TestCloudSpeaksVcert(t *testing.T) {
	srv := venafitest.NewCloud(t, venafitest.CloudOptions{APIKey: "key", Behaviour: venafitest.Behaviour{PendingPolls: 1}})
	c, err := cloud.NewConnector(srv.URL(), srv.Zone(), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.SetHTTPClient(httpClient(srv.CABundle()))
	if err := c.Authenticate(&endpoint.Authentication{APIKey: "wrong"}); err == nil {
		t.Fatal("a wrong API key was accepted")
	}
	if err := c.Authenticate(&endpoint.Authentication{APIKey: "key"}); err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	zone, err := c.ReadZoneConfiguration()
	if err != nil {
		t.Fatalf("ReadZoneConfiguration: %v", err)
	}
	csrPEM := newCSR(t, "app.example.com")
	req := vcertRequest(t, csrPEM, "app.example.com", 2160*time.Hour)
	if err := zone.ValidateCertificateRequest(req); err != nil {
		t.Fatalf("the open template refuses a plain request: %v", err)
	}
	pickupID, err := c.RequestCertificate(req)
	if err != nil {
		t.Fatalf("RequestCertificate: %v", err)
	}
	retrieve := vcertRequest(t, csrPEM, "app.example.com", 0)
	retrieve.PickupID = pickupID
	if _, err := c.RetrieveCertificate(retrieve); !errors.As(err, &endpoint.ErrCertificatePending{}) {
		t.Fatalf("first retrieve: %v, want pending", err)
	}
	retrieve.CertID = ""
	pems, err := c.RetrieveCertificate(retrieve)
	if err != nil {
		t.Fatalf("retrieve: %v", err)
	}
	if pems.Certificate == "" || len(pems.Chain) != 2 {
		t.Errorf("got certificate %t and %d chain certificates", pems.Certificate != "", len(pems.Chain))
	}
	e, _ := srv.EnrollmentFor(csrPEM)
	if e.RawValidity != "PT2160H0M0S" || e.RequestedValidity != 2160*time.Hour {
		t.Errorf("validity %q (%s), want PT2160H0M0S", e.RawValidity, e.RequestedValidity)
	}
}
