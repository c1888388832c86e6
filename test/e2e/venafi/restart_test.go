package venafi_test

import (
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"

	"github.com/signerpolicy/signer-policy-operator/internal/signer/venafi"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
	venafitest "github.com/signerpolicy/signer-policy-operator/test/venafi"
)

// The operator is stopped while both services still answer "pending", and started again: it
// carries on with the pickup IDs stored on the CSRs, and neither service ever sees a second
// request. This test is not parallel: it stops the manager every other test relies on, and Go
// runs it before the parallel tests resume.
func TestRestartResumesFromThePickupID(t *testing.T) {
	// Pending until told otherwise.
	held := venafitest.Behaviour{PendingPolls: 1 << 30}
	tpp := newTPP(t, held, nil)
	cloud := newCloud(t, held, nil)
	tppIssuer := newIssuer(t, issuerOptions{config: tppConfig(tpp), secret: map[string]string{"username": tppUser, "password": tppPassword}})
	cloudIssuer := newIssuer(t, issuerOptions{config: cloudConfig(cloud), secret: map[string]string{"api-key": cloudKey}})
	tppCSR, _ := tppIssuer.submit(t, request{commonName: "restart-tpp.example.com"})
	cloudCSR, _ := cloudIssuer.submit(t, request{commonName: "restart-cloud.example.com"})

	before := map[string]string{}
	for _, c := range []*certificatesv1.CertificateSigningRequest{tppCSR, cloudCSR} {
		before[c.Name] = env.WaitForCSR(t, c.Name, wait, hasPickupID).Annotations[venafi.PickupIDAnnotation]
	}
	if err := env.StopManager(); err != nil {
		t.Fatalf("stopping the manager: %v", err)
	}
	restarted := false
	t.Cleanup(func() {
		// Whatever happened, the other tests need a running operator.
		if !restarted {
			if err := env.StartManager(options); err != nil {
				t.Errorf("restarting the manager: %v", err)
			}
		}
	})
	retrievalsAtStop := map[string]int{}
	for _, pair := range []struct {
		srv standIn
		c   *certificatesv1.CertificateSigningRequest
	}{{tpp, tppCSR}, {cloud, cloudCSR}} {
		e, _ := pair.srv.EnrollmentFor(pair.c.Spec.Request)
		retrievalsAtStop[pair.c.Name] = e.Retrievals
	}
	tpp.SetBehaviour(venafitest.Behaviour{})
	cloud.SetBehaviour(venafitest.Behaviour{})
	if err := env.StartManager(options); err != nil {
		t.Fatalf("restarting the manager: %v", err)
	}
	restarted = true

	for _, pair := range []struct {
		srv standIn
		c   *certificatesv1.CertificateSigningRequest
	}{{tpp, tppCSR}, {cloud, cloudCSR}} {
		got := env.WaitForCSR(t, pair.c.Name, wait, harness.Issued)
		if n := pair.srv.RequestsFor(pair.c.Spec.Request); n != 1 {
			t.Errorf("%s: the server saw %d requests, want exactly 1", pair.c.Name, n)
		}
		e, _ := pair.srv.EnrollmentFor(pair.c.Spec.Request)
		if e.PickupID != before[pair.c.Name] || got.Annotations[venafi.PickupIDAnnotation] != before[pair.c.Name] {
			t.Errorf("%s: pickup ID %q before the restart, %q at the server and %q on the CSR after", pair.c.Name,
				before[pair.c.Name], e.PickupID, got.Annotations[venafi.PickupIDAnnotation])
		}
		if e.Retrievals <= retrievalsAtStop[pair.c.Name] {
			t.Errorf("%s: no retrieval after the restart", pair.c.Name)
		}
		if e.Issued == nil {
			t.Errorf("%s: the server never issued", pair.c.Name)
		}
	}
}
