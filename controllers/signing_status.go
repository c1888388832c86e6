package controllers

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/signerpolicy/signer-policy-operator/internal/audit"
	"github.com/signerpolicy/signer-policy-operator/internal/csr"
	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// Annotations the operator sets on a CSR it signed, so `kubectl get csr -o yaml` identifies the
// certificate after status.certificate has been read and discarded.
const (
	SerialAnnotation      = "policy.signerpolicy.dev/certificate-serial"
	FingerprintAnnotation = "policy.signerpolicy.dev/certificate-sha256-fingerprint"

	// recordClaimAnnotation holds a token of the reconcile that recorded the issuance.
	recordClaimAnnotation = "policy.signerpolicy.dev/record-claim"
)

// fail marks the CSR Failed through the /status subresource. A Failed CSR is final: the
// requester must submit a new one.
func (r *SigningReconciler) fail(ctx context.Context, c *certificatesv1.CertificateSigningRequest, g *grant, reason, message string) error {
	c.Status.Conditions = append(c.Status.Conditions, csr.FailedCondition(reason, message, metav1.NewTime(r.Clock.Now())))
	c, err := writeCSR(ctx, r.APIReader, c, csrWrite{
		what: "marking the CSR Failed (" + reason + ")",
		send: func(ctx context.Context) error { return r.Client.Status().Update(ctx, c) },
		landed: func(got *certificatesv1.CertificateSigningRequest) bool {
			cond := csr.Condition(got, certificatesv1.CertificateFailed)
			return cond != nil && cond.Reason == reason
		},
	})
	if err != nil {
		return err
	}
	r.Metrics.waiting(c.Name, "")
	r.Metrics.signed(c, g, "failed", reason)
	r.Events.Eventf(c, corev1.EventTypeWarning, reason, "%s", truncate(message))
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
	return nil
}

// issue writes the certificate to status.certificate, then records it. The status write carries
// the resourceVersion the controller read, so when a reconcile working from a stale cache signs a
// second time its write conflicts and only the first certificate is ever delivered.
func (r *SigningReconciler) issue(ctx context.Context, c *certificatesv1.CertificateSigningRequest, issuer cmapi.GenericIssuer,
	g *grant, chain signer.PEMChain) error {
	c.Status.Certificate = chain
	c, err := writeCSR(ctx, r.APIReader, c, csrWrite{
		what: "writing status.certificate",
		send: func(ctx context.Context) error { return r.Client.Status().Update(ctx, c) },
		landed: func(got *certificatesv1.CertificateSigningRequest) bool {
			return bytes.Equal(got.Status.Certificate, chain)
		},
	})
	if err != nil {
		return err
	}
	return r.recordIssuance(ctx, c, issuer, g)
}

// recordIssuance annotates the CSR with its certificate's serial and fingerprint, then emits the
// event, metrics and governance record. The annotations mark the issuance as recorded: an issued
// CSR without them (a stop or a failed write in between) is recorded by a later reconcile, so no
// certificate goes unrecorded; only a crash between the annotation and the record could lose one.
func (r *SigningReconciler) recordIssuance(ctx context.Context, c *certificatesv1.CertificateSigningRequest, issuer cmapi.GenericIssuer, g *grant) error {
	leaf, err := leafOf(c.Status.Certificate)
	if err != nil {
		return nil // not a certificate this operator wrote; nothing to describe
	}
	serial, fingerprint := leaf.SerialNumber.Text(16), sha256Hex(leaf.Raw)
	marked := func(c *certificatesv1.CertificateSigningRequest) bool {
		return c.Annotations[SerialAnnotation] == serial && c.Annotations[FingerprintAnnotation] == fingerprint
	}
	if marked(c) {
		return nil
	}
	// The claim tells this writer's marker from another's, so that after a lost response only
	// the reconcile whose write landed records the issuance.
	claim := rand.Text()
	updated := c.DeepCopy()
	if updated.Annotations == nil {
		updated.Annotations = map[string]string{}
	}
	updated.Annotations[SerialAnnotation], updated.Annotations[FingerprintAnnotation] = serial, fingerprint
	updated.Annotations[recordClaimAnnotation] = claim
	// The marker is claimed with an optimistic lock, so of two reconciles that both see the CSR
	// issued and unmarked (one from a stale cache) only one records it.
	updated, err = writeCSR(ctx, r.APIReader, updated, csrWrite{
		what: "annotating the CSR with its certificate",
		send: func(ctx context.Context) error {
			return r.Client.Patch(ctx, updated, client.MergeFromWithOptions(c, client.MergeFromWithOptimisticLock{}))
		},
		landed: func(got *certificatesv1.CertificateSigningRequest) bool {
			return marked(got) && got.Annotations[recordClaimAnnotation] == claim
		},
	})
	if err != nil {
		return err
	}
	r.Metrics.waiting(c.Name, "")
	r.Metrics.signed(c, g, "issued", ReasonCertificateIssued)
	r.Metrics.issued(c, g, r.Clock.Now())
	r.Events.Eventf(updated, corev1.EventTypeNormal, ReasonCertificateIssued,
		"certificate %s issued by %s, valid until %s", serial, signer.ReferenceTo(issuer), leaf.NotAfter.UTC().Format(time.RFC3339))
	r.Audit.Write(issuanceRecord(updated, issuer, g, leaf, serial, fingerprint))
	return nil
}

// recordLateIssuance records an issued CSR whose record a stop or a failed write left owed,
// reconstructing what the record needs from the CSR, its issuer and its policies.
func (r *SigningReconciler) recordLateIssuance(ctx context.Context, c *certificatesv1.CertificateSigningRequest) error {
	ref, err := csr.ParseSignerName(c.Spec.SignerName)
	if err != nil {
		return nil // not signed by this operator
	}
	if leaf, err := leafOf(c.Status.Certificate); err != nil || c.Annotations[SerialAnnotation] == leaf.SerialNumber.Text(16) {
		r.Metrics.waiting(c.Name, "")
		return nil
	}
	issuer, err := signer.GetIssuer(ctx, r.Client, ref)
	if err != nil {
		if !apierrors.IsNotFound(err) {
			return err
		}
		issuer = signer.PlaceholderIssuer(ref) // deleted since: the record still names it
	}
	policies, err := r.policiesOf(ctx, c.Spec.SignerName)
	if err != nil {
		return err
	}
	g, _ := requestedGrant(c)
	g.typ, _ = signer.TypeOf(issuer.GetSpec())
	if g.parsed != nil {
		// The policy that allows the request now; the one that allowed it at signing may have
		// changed since, which the record's timestamp tells a reader.
		namespaces, err := readNamespaceFacts(ctx, r.Client, c)
		if err != nil {
			return err
		}
		d := r.Evaluator.EvaluateForSigning(policies, signingRequest(c, &g, namespaces))
		g.policy = policyNamed(policies, d.Policy)
	}
	return r.recordIssuance(ctx, c, issuer, &g)
}

func issuanceRecord(c *certificatesv1.CertificateSigningRequest, issuer cmapi.GenericIssuer, g *grant,
	leaf *x509.Certificate, serial, fingerprint string) audit.Record {
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
	ref := signer.ReferenceTo(issuer)
	rec.Issuer = &audit.Issuer{Kind: string(ref.Kind), Namespace: ref.Namespace, Name: ref.Name, Type: string(g.typ)}
	rec.Certificate = &audit.Certificate{
		Serial: serial, SHA256Fingerprint: fingerprint,
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
