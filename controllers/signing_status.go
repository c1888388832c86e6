package controllers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/signerpolicy/signer-policy-operator/internal/audit"
	"github.com/signerpolicy/signer-policy-operator/internal/csr"
	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// fail marks the CSR Failed through the /status subresource. A Failed CSR is final: the
// requester must submit a new one.
func (r *SigningReconciler) fail(ctx context.Context, c *certificatesv1.CertificateSigningRequest, g *grant, reason, message string) error {
	csr.ClearWaiting(c) // in the same write: the CSR waits no longer
	c.Status.Conditions = append(c.Status.Conditions, csr.FailedCondition(reason, message, metav1.NewTime(r.Clock.Now())))
	claim := r.Ledger.claimFor(c, audit.EventFailed)
	c, err := writeCSR(ctx, r.APIReader, c, csrWrite{
		what: "marking the CSR Failed (" + reason + ")",
		send: func(ctx context.Context) error { return r.Client.Status().Update(ctx, c) },
		landed: func(got *certificatesv1.CertificateSigningRequest) bool {
			cond := csr.Condition(got, certificatesv1.CertificateFailed)
			return cond != nil && cond.Reason == reason
		},
	})
	if err != nil {
		claim.release()
		return err
	}
	r.Metrics.waiting(c.Name, "")
	r.Metrics.signed(c, g, "failed", reason)
	r.Events.Eventf(c, corev1.EventTypeWarning, reason, "%s", truncate(message))
	if !claim.held {
		return nil
	}
	rec := audit.ForCSR(audit.EventFailed, c)
	rec.Reason, rec.Message = reason, message
	rec.IsCA = g.isCA
	if g.requested > 0 {
		rec.RequestedLifetime = g.requested.String()
	}
	if g.policy != nil {
		rec.Policy, rec.RBAC = g.policy.Name, g.policy.Status.RBAC
	}
	r.Audit.Write(rec)
	claim.written(nil)
	return nil
}

// issue writes the certificate to status.certificate, then records it. The status write carries
// the resourceVersion the controller read, so when a reconcile working from a stale cache signs a
// second time its write conflicts and only the first certificate is ever delivered. The record is
// claimed before the write, so the records controller does not write a second copy; a stop between
// the write and the record leaves it owed, and the next process writes it.
func (r *SigningReconciler) issue(ctx context.Context, c *certificatesv1.CertificateSigningRequest, issuer cmapi.GenericIssuer,
	g *grant, chain signer.PEMChain) error {
	c.Status.Certificate = chain
	csr.ClearWaiting(c) // in the same write: the CSR waits no longer
	claim := r.Ledger.claimFor(c, audit.EventIssued)
	c, err := writeCSR(ctx, r.APIReader, c, csrWrite{
		what: "writing status.certificate",
		send: func(ctx context.Context) error { return r.Client.Status().Update(ctx, c) },
		landed: func(got *certificatesv1.CertificateSigningRequest) bool {
			return bytes.Equal(got.Status.Certificate, chain)
		},
	})
	if err != nil {
		claim.release()
		return err
	}
	leaf, err := leafOf(chain)
	if err != nil {
		claim.release() // sign checked the chain before writing it; the records controller says what it can
		return err
	}
	r.Metrics.waiting(c.Name, "")
	r.Metrics.signed(c, g, "issued", ReasonCertificateIssued)
	r.Metrics.issued(c, g, r.Clock.Now())
	r.Events.Eventf(c, corev1.EventTypeNormal, ReasonCertificateIssued,
		"certificate %s issued by %s, valid until %s", leaf.SerialNumber.Text(16), signer.ReferenceTo(issuer), leaf.NotAfter.UTC().Format(time.RFC3339))
	if !claim.held {
		return nil
	}
	rec := issuanceRecord(c, issuer, g, leaf)
	if rec.Approver = r.Ledger.approver(c.UID); rec.Approver == nil {
		// The certificate is out whatever the answer: a failed check names nobody.
		if rec.Approver, err = credibleApprover(ctx, r.Client, c.Spec.SignerName, r.Approvers.Approver(c, certificatesv1.CertificateApproved)); err != nil {
			rec.Approver = &audit.Approver{Source: audit.ApproverUnknown}
		}
	}
	r.Audit.Write(rec)
	claim.written(nil)
	return nil
}

// issuanceRecord describes an issued certificate; issuer is nil when it cannot be known.
func issuanceRecord(c *certificatesv1.CertificateSigningRequest, issuer cmapi.GenericIssuer, g *grant, leaf *x509.Certificate) audit.Record {
	rec := audit.ForCSR(audit.EventIssued, c)
	// What the certificate says was granted, which holds even when the record is written late.
	rec.IsCA, rec.GrantedLifetime = leaf.IsCA, leaf.NotAfter.Sub(leaf.NotBefore).String()
	if g.requested > 0 {
		rec.RequestedLifetime = g.requested.String()
	}
	if g.policy != nil {
		rec.Policy, rec.RBAC = g.policy.Name, g.policy.Status.RBAC
	}
	if cond := csr.Condition(c, certificatesv1.CertificateApproved); cond != nil {
		rec.Reason, rec.Message = cond.Reason, cond.Message
	}
	if issuer != nil {
		ref := signer.ReferenceTo(issuer)
		rec.Issuer = &audit.Issuer{Kind: string(ref.Kind), Namespace: ref.Namespace, Name: ref.Name, Type: string(g.typ)}
	}
	rec.Certificate = &audit.Certificate{
		Serial: leaf.SerialNumber.Text(16), SHA256Fingerprint: sha256Hex(leaf.Raw),
		NotBefore: leaf.NotBefore.UTC().Format(time.RFC3339), NotAfter: leaf.NotAfter.UTC().Format(time.RFC3339),
	}
	return rec
}

func leafOf(chain signer.PEMChain) (*x509.Certificate, error) {
	block, _ := pem.Decode(chain)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no CERTIFICATE block")
	}
	return x509.ParseCertificate(block.Bytes)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
