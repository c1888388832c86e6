package venafi_test

import (
	"crypto/x509"
	"encoding/pem"
	"reflect"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/utils/ptr"

	"github.com/signerpolicy/signer-policy-operator/internal/audit"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/venafi"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
	venafitest "github.com/signerpolicy/signer-policy-operator/test/venafi"
)

func pemDER(data []byte) []byte {
	block, _ := pem.Decode(data)
	if block == nil {
		return data
	}
	return block.Bytes
}

// standIn is what these tests need of either server.
type standIn interface {
	RequestsFor(csrPEM []byte) int
	EnrollmentFor(csrPEM []byte) (venafitest.Enrollment, bool)
	RootCA() *x509.Certificate
}

const customFields = `[{"name":"cost-center","value":"4711"},{"name":"environment","value":"production","type":"Plain"},{"name":"environment","value":"eu-west"}]`

// Each issuer answers "pending" three times before issuing. The CSR carries custom fields and a
// requested duration; the server sees both exactly, saw the pickup ID on the CSR object at every
// retrieval, and the chain ends up in status.certificate.
func TestIssuanceAfterThreePendingPolls(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// setup returns the issuer options and the server.
		setup func(t *testing.T, w *witness) (issuerOptions, standIn)
		req   request
		// duration is what the gate decides from req.
		duration time.Duration
	}{
		{
			name: "TPP Issuer with username and password",
			setup: func(t *testing.T, w *witness) (issuerOptions, standIn) {
				srv := newTPP(t, venafitest.Behaviour{PendingPolls: 3}, w.onRetrieve)
				return issuerOptions{config: tppConfig(srv), secret: map[string]string{"username": tppUser, "password": tppPassword}}, srv
			},
			req: request{commonName: "tpp-password.example.com", annotations: map[string]string{
				venafi.CustomFieldsAnnotation: customFields, "experimental.cert-manager.io/request-duration": "1234h",
			}},
			duration: 1234 * time.Hour,
		},
		{
			name: "TPP ClusterIssuer with an access token",
			setup: func(t *testing.T, w *witness) (issuerOptions, standIn) {
				srv := newTPP(t, venafitest.Behaviour{PendingPolls: 3}, w.onRetrieve)
				return issuerOptions{cluster: true, config: tppConfig(srv), secret: map[string]string{"access-token": tppToken}}, srv
			},
			req:      request{commonName: "tpp-token.example.com", annotations: map[string]string{venafi.CustomFieldsAnnotation: customFields}, expiration: ptr.To[int32](7200)},
			duration: 2 * time.Hour,
		},
		{
			name: "Cloud Issuer",
			setup: func(t *testing.T, w *witness) (issuerOptions, standIn) {
				srv := newCloud(t, venafitest.Behaviour{PendingPolls: 3}, w.onRetrieve)
				return issuerOptions{config: cloudConfig(srv), secret: map[string]string{"api-key": cloudKey}}, srv
			},
			req:      request{commonName: "cloud.example.com", annotations: map[string]string{"experimental.cert-manager.io/request-duration": "2160h"}},
			duration: 2160 * time.Hour,
		},
		{
			name: "Cloud ClusterIssuer",
			setup: func(t *testing.T, w *witness) (issuerOptions, standIn) {
				srv := newCloud(t, venafitest.Behaviour{PendingPolls: 3}, w.onRetrieve)
				return issuerOptions{cluster: true, config: cloudConfig(srv), secret: map[string]string{"api-key": cloudKey}}, srv
			},
			req:      request{commonName: "cloud-cluster.example.com"},
			duration: 90 * 24 * time.Hour,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWitness()
			opts, srv := tc.setup(t, w)
			iss := newIssuer(t, opts)
			c, key := iss.submit(t, tc.req)
			w.watch(c.Name, c.Spec.Request)
			got := env.WaitForCSR(t, c.Name, wait, harness.Issued)

			e, ok := srv.EnrollmentFor(c.Spec.Request)
			if !ok {
				t.Fatal("the server saw no request for the CSR")
			}
			if n := srv.RequestsFor(c.Spec.Request); n != 1 {
				t.Errorf("the server saw %d requests for the CSR, want 1", n)
			}
			if got.Annotations[venafi.PickupIDAnnotation] != e.PickupID {
				t.Errorf("pickup-id annotation %q, server's pickup ID %q", got.Annotations[venafi.PickupIDAnnotation], e.PickupID)
			}
			// Three pending answers, then the certificate.
			if e.Retrievals != 4 {
				t.Errorf("%d retrievals, want 4 (3 pending, 1 issued)", e.Retrievals)
			}
			seen := w.annotationsAtRetrievals(c.Name)
			if len(seen) == 0 {
				t.Error("no retrieval witnessed")
			}
			for i, annotation := range seen {
				if annotation != e.PickupID {
					t.Errorf("at retrieval %d the CSR's pickup-id annotation was %q, want %q", i, annotation, e.PickupID)
				}
			}
			checkRequested(t, tc.req, tc.duration, e)
			leaf := verifyIssued(t, got, key, srv.RootCA())
			if want := got.CreationTimestamp.Add(tc.duration); leaf.NotAfter.Sub(want).Abs() > time.Minute {
				t.Errorf("notAfter %s, want about %s (creation + %s)", leaf.NotAfter, want, tc.duration)
			}
			env.WaitForEvent(t, c, venafi.ReasonIssuancePending)
			env.WaitForEvent(t, c, "CertificateIssued")
			checkIssuedRecord(t, c.Name)
			expectNoCredentials(t, c)
		})
	}
}

// checkRequested checks the custom fields and the validity the server received.
func checkRequested(t *testing.T, r request, duration time.Duration, e venafitest.Enrollment) {
	t.Helper()
	if e.ObjectName != "" { // TPP: custom fields are a TPP feature; vcert sends Cloud none
		var want map[string][]string
		if r.annotations[venafi.CustomFieldsAnnotation] != "" {
			want = map[string][]string{"cost-center": {"4711"}, "environment": {"production", "eu-west"}}
		}
		if !reflect.DeepEqual(e.CustomFields, want) {
			t.Errorf("custom fields at the server %v, want %v", e.CustomFields, want)
		}
		// TPP takes an end date to the second: the request time plus the duration.
		if (e.RequestedValidity - duration).Abs() > 2*time.Second {
			t.Errorf("requested validity %s (end date %s), want %s", e.RequestedValidity, e.RawValidity, duration)
		}
	} else if e.RequestedValidity != duration {
		t.Errorf("requested validity %s (%q), want exactly %s", e.RequestedValidity, e.RawValidity, duration)
	}
	if e.Origin != "signer-policy-operator" {
		t.Errorf("origin %q", e.Origin)
	}
}

// checkIssuedRecord checks the governance record of the issuance names a Venafi issuer.
func checkIssuedRecord(t *testing.T, name string) {
	t.Helper()
	for _, rec := range records.For(name) {
		if rec.Event == audit.EventIssued {
			if rec.Issuer == nil || rec.Issuer.Type != "Venafi" || rec.Certificate == nil || rec.Certificate.Serial == "" {
				t.Errorf("issued record %+v lacks the Venafi issuer or the certificate", rec)
			}
			return
		}
	}
	t.Errorf("no %s record for %s", audit.EventIssued, name)
}

// A malformed custom-fields annotation fails the CSR before anything reaches the service.
func TestMalformedCustomFieldsFail(t *testing.T) {
	t.Parallel()
	srv := newTPP(t, venafitest.Behaviour{}, nil)
	iss := newIssuer(t, issuerOptions{config: tppConfig(srv), secret: map[string]string{"access-token": tppToken}})
	var csrs []*certificatesv1.CertificateSigningRequest
	for i, annotation := range []string{`{"name": "cost-center"`, `[{"name":"expires","value":"2030-01-01","type":"Date"}]`, `[{"value":"nameless"}]`} {
		c, _ := iss.submit(t, request{commonName: "bad-fields-" + string(rune('a'+i)) + ".example.com", annotations: map[string]string{venafi.CustomFieldsAnnotation: annotation}})
		csrs = append(csrs, c)
	}
	good, _ := iss.submit(t, request{commonName: "good-fields.example.com", annotations: map[string]string{venafi.CustomFieldsAnnotation: `[{"name":"team","value":"a"}]`}})
	for _, c := range csrs {
		env.WaitForCSR(t, c.Name, wait, harness.FailedWith(venafi.ReasonErrorCustomFields))
		if n := srv.RequestsFor(c.Spec.Request); n != 0 {
			t.Errorf("%d requests sent for a CSR with malformed custom fields", n)
		}
	}
	env.WaitForCSR(t, good.Name, wait, harness.Issued)
}
