package install

import (
	"context"
	"crypto/x509"
	"fmt"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/controllers"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

// splitIdentitiesCannotWidenPolicies is run by the split install test once its three processes
// run. The policy process must hold `approve` on every signer it lets approvers approve for (the
// RBAC escalation check), and the approval process approves, so either identity can approve any
// CSR directly. Signing must still give the requester nothing their own policy does not allow,
// and nothing at all for a signer no policy governs.
func splitIdentitiesCannotWidenPolicies(t *testing.T) {
	ns := env.Namespace(t)
	root := testpki.NewRootCA(t, testpki.ECDSA, "split CA")
	alice := "alice-" + ns
	governed, ungoverned := "split-"+ns, "ungoverned-"+ns
	for _, o := range []client.Object{
		root.Secret(operatorNamespace, governed),
		root.Secret(operatorNamespace, ungoverned),
		&cmapi.ClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: governed},
			Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: governed}}}},
		&cmapi.ClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: ungoverned},
			Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: ungoverned}}}},
		&policyv1alpha1.SignerPolicy{ObjectMeta: metav1.ObjectMeta{Name: governed}, Spec: policyv1alpha1.SignerPolicySpec{
			IssuerRef:  &policyv1alpha1.IssuerReference{Kind: "ClusterIssuer", Name: governed},
			Requesters: policyv1alpha1.Subjects{Users: []string{alice}},
			Approval:   policyv1alpha1.Approval{Mode: policyv1alpha1.ApprovalManual},
			Allowed:    policyv1alpha1.Allowed{DNSNames: []string{"*.m.example.com"}},
		}},
	} {
		env.Create(t, o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := poll(ctx, "policy "+governed+" Ready", func() error { return policyReady(governed) }); err != nil {
		t.Fatal(err)
	}
	requester := env.User(t, alice)
	for _, process := range []string{controllers.ControllerPolicy, controllers.ControllerApproval} {
		as, err := client.New(asServiceAccount("signer-policy-"+process), client.Options{Scheme: env.Admin.Scheme()})
		if err != nil {
			t.Fatal(err)
		}
		t.Run("approved by the "+process+" process", func(t *testing.T) {
			outside := splitCSR(ctx, t, requester, "clusterissuers.cert-manager.io/"+governed, "evil.example.com")
			anything := splitCSR(ctx, t, requester, "clusterissuers.cert-manager.io/"+ungoverned, "evil.example.com")
			for _, name := range []string{outside, anything} {
				if err := poll(ctx, "approval with the "+process+" process's identity", func() error { return harness.Approve(as, name) }); err != nil {
					t.Fatal(err)
				}
			}
			if err := poll(ctx, "PolicyViolation", func() error { return failedNaming(outside, "PolicyViolation", "evil.example.com") }); err != nil {
				t.Error(err)
			}
			if err := poll(ctx, "NoSignerPolicy event", func() error { return hasEvent(anything, "NoSignerPolicy") }); err != nil {
				t.Error(err)
			}
			if err := issued(anything, nil); err == nil {
				t.Errorf("a CSR for the ungoverned ClusterIssuer was signed after the %s process approved it", process)
			}
		})
	}
}

func splitCSR(ctx context.Context, t *testing.T, as client.Client, signerName, dnsName string) string {
	t.Helper()
	name, err := submit(ctx, as, harness.CSR{SignerName: signerName,
		Request: testpki.RequestPEM(t, testpki.NewKey(t, testpki.ECDSA), &x509.CertificateRequest{DNSNames: []string{dnsName}})})
	if err != nil {
		t.Fatal(err)
	}
	return name
}

// failedNaming checks the CSR is Failed with reason and a message naming value, and unsigned.
func failedNaming(name, reason, value string) error {
	var c certificatesv1.CertificateSigningRequest
	if err := env.Admin.Get(context.Background(), client.ObjectKey{Name: name}, &c); err != nil {
		return err
	}
	cond := harness.Condition(&c, certificatesv1.CertificateFailed)
	switch {
	case len(c.Status.Certificate) > 0:
		return fmt.Errorf("signed")
	case cond == nil:
		return fmt.Errorf("not Failed: %+v", c.Status.Conditions)
	case cond.Reason != reason || !strings.Contains(cond.Message, value):
		return fmt.Errorf("Failed %s: %s; want %s naming %s", cond.Reason, cond.Message, reason, value)
	}
	return nil
}
