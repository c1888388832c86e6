//go:build !unit

package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/csr"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

// readsAsRequester waits until the requester, with their own credentials, reads on their CSR a
// condition of type typ with reason whose message mentions every string in mentions.
func readsAsRequester(t *testing.T, requester client.Client, c *certificatesv1.CertificateSigningRequest, timeout time.Duration,
	typ certificatesv1.RequestConditionType, reason string, mentions ...string) {
	t.Helper()
	harness.Eventually(t, timeout, func() error {
		var got certificatesv1.CertificateSigningRequest
		if err := requester.Get(context.Background(), client.ObjectKeyFromObject(c), &got); err != nil {
			return fmt.Errorf("the requester cannot read their CSR: %w", err)
		}
		cond := csr.Condition(&got, typ)
		if cond == nil || cond.Reason != reason {
			return fmt.Errorf("the requester reads conditions %+v, want %s with reason %s", got.Status.Conditions, typ, reason)
		}
		for _, m := range mentions {
			if !strings.Contains(cond.Message, m) {
				return fmt.Errorf("the requester reads %s %q, which does not mention %q", typ, cond.Message, m)
			}
		}
		return nil
	})
}

// A requester learns why their CSR is refused or waits from the CSR itself, with the rights a
// policy gives them: events are in another namespace, out of their reach.
func TestRequestersReadWhyTheirCSRIsRefusedOrWaits(t *testing.T) {
	t.Run("denied by a policy", func(t *testing.T) {
		tn := newTenant(t)
		alice := env.User(t, tn.user)
		c := env.SubmitCSR(t, alice, harness.CSR{SignerName: tn.signerName, Request: dnsCSR(t, "web.evil.com")})
		readsAsRequester(t, alice, c, wait, certificatesv1.CertificateDenied, "SignerPolicyDenied", tn.policy, "spec.allowed.dnsNames")
	})
	t.Run("pending under a Manual policy", func(t *testing.T) {
		iut := newIssuerUnderTest(t, policyv1alpha1.IssuerKindIssuer, false)
		c := env.SubmitCSR(t, iut.requester, harness.CSR{SignerName: iut.signerName, Request: dnsCSR(t, "web.example.com")})
		readsAsRequester(t, iut.requester, c, wait, csr.ConditionWaiting, "SignerPolicyEvaluated", "manual", "an approver decides")
	})
	t.Run("a signer no policy governs", func(t *testing.T) {
		iut, _ := newUngovernedIssuerUnderTest(t, policyv1alpha1.IssuerKindClusterIssuer, false)
		c := env.SubmitCSR(t, iut.requester, harness.CSR{SignerName: iut.signerName, Request: dnsCSR(t, "web.example.com")})
		readsAsRequester(t, iut.requester, c, 30*time.Second, csr.ConditionWaiting, "NoSignerPolicy", "no SignerPolicy governs", iut.signerName)
	})
	t.Run("approved, then refused at signing", func(t *testing.T) {
		iut := newIssuerUnderTest(t, policyv1alpha1.IssuerKindIssuer, false)
		c := env.SubmitCSR(t, iut.requester, harness.CSR{SignerName: iut.signerName, Request: dnsCSR(t, "web.evil.com")})
		harness.ApproveEventually(t, wait, env.Admin, c.Name)
		readsAsRequester(t, iut.requester, c, wait, certificatesv1.CertificateFailed, "PolicyViolation", "spec.allowed.dnsNames")
	})
	t.Run("an issuer that does not exist", func(t *testing.T) {
		ns := env.Namespace(t)
		user := "requester-" + ns
		env.GrantCSRCreate(t, user)
		requester := env.User(t, user)
		c := env.SubmitCSR(t, requester, harness.CSR{SignerName: "issuers.cert-manager.io/" + ns + ".missing", Request: dnsCSR(t, "web.example.com")})
		harness.ApproveEventually(t, wait, env.Admin, c.Name)
		readsAsRequester(t, requester, c, wait, csr.ConditionWaiting, "IssuerNotFound", "missing", "not found")
	})
}
