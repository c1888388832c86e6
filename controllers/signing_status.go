package controllers

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
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
)

// fail marks the CSR Failed through the /status subresource. A Failed CSR is final: the
// requester must submit a new one.
func (r *SigningReconciler) fail(ctx context.Context, c *certificatesv1.CertificateSigningRequest, b *bounds, reason, message string) error {
	c.Status.Conditions = append(c.Status.Conditions, csr.FailedCondition(reason, message, metav1.NewTime(r.Clock.Now())))
	if err := r.Client.Status().Update(ctx, c); err != nil {
		return fmt.Errorf("marking the CSR Failed (%s): %w", reason, err)
	}
	r.Metrics.waiting(c.Name, "")
	r.Events.Eventf(c, nil, corev1.EventTypeWarning, reason, "Sign", "%s", truncate(message))
	rec := audit.ForCSR(audit.EventFailed, c)
	rec.Reason, rec.Message = reason, message
	if b != nil {
		rec.IsCA = b.isCA
		if b.policy != nil {
			rec.Policy = b.policy.Name
		}
	}
	r.Audit.Write(rec)
	return nil
}

// issue writes the certificate to status.certificate, then annotates the CSR with its serial
// and fingerprint. The status write carries the resourceVersion the controller read, so when a
// reconcile working from a stale cache signs a second time its write conflicts and only the
// first certificate is ever delivered; the annotations are derived from what status holds.
func (r *SigningReconciler) issue(ctx context.Context, c *certificatesv1.CertificateSigningRequest, issuer cmapi.GenericIssuer,
	typ signer.IssuerType, b bounds, chain signer.PEMChain) error {
	leaf, err := leafOf(chain)
	if err != nil {
		// A signer returned something that is not a certificate: retrying may help (a transient
		// upstream fault); writing it would hand the requester garbage.
		return fmt.Errorf("signer for %s returned an unusable chain: %w", typ, err)
	}
	c.Status.Certificate = chain
	if err := r.Client.Status().Update(ctx, c); err != nil {
		return fmt.Errorf("writing status.certificate: %w", err)
	}
	now := r.Clock.Now()
	r.Metrics.waiting(c.Name, "")
	r.Metrics.signed(string(typ), "issued")
	r.Metrics.issued(string(typ), c.CreationTimestamp.Time, now)
	if err := r.annotateCertificate(ctx, c); err != nil {
		return err
	}
	serial := leaf.SerialNumber.Text(16)
	r.Events.Eventf(c, nil, corev1.EventTypeNormal, ReasonCertificateIssued, "Sign",
		"certificate %s issued by %s %s, valid until %s", serial, issuer.GetObjectKind().GroupVersionKind().Kind, issuer.GetName(), leaf.NotAfter.UTC().Format(time.RFC3339))
	r.Audit.Write(issuanceRecord(c, issuer, typ, b, leaf, serial, sha256Hex(leaf.Raw)))
	return nil
}

// annotateCertificate sets the serial and fingerprint annotations from status.certificate when
// they are missing or stale, so that `kubectl get csr -o yaml` identifies the certificate. It is
// also run for issued CSRs, which repairs a CSR whose annotation write was interrupted.
func (r *SigningReconciler) annotateCertificate(ctx context.Context, c *certificatesv1.CertificateSigningRequest) error {
	leaf, err := leafOf(c.Status.Certificate)
	if err != nil {
		return nil // not a certificate this operator wrote; nothing to describe
	}
	serial, fingerprint := leaf.SerialNumber.Text(16), sha256Hex(leaf.Raw)
	if c.Annotations[SerialAnnotation] == serial && c.Annotations[FingerprintAnnotation] == fingerprint {
		return nil
	}
	patch := client.MergeFrom(c.DeepCopy())
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[SerialAnnotation], c.Annotations[FingerprintAnnotation] = serial, fingerprint
	if err := r.Client.Patch(ctx, c, patch); err != nil {
		return fmt.Errorf("annotating the CSR with its certificate: %w", err)
	}
	return nil
}

func issuanceRecord(c *certificatesv1.CertificateSigningRequest, issuer cmapi.GenericIssuer, typ signer.IssuerType, b bounds,
	leaf *x509.Certificate, serial, fingerprint string) audit.Record {
	rec := audit.ForCSR(audit.EventIssued, c)
	rec.IsCA, rec.GrantedLifetime = b.isCA, b.duration.String()
	if b.requested > 0 {
		rec.RequestedLifetime = b.requested.String()
	}
	if b.policy != nil {
		rec.Policy, rec.RBAC = b.policy.Name, b.policy.Status.RBAC
	}
	if cond := approvedCondition(c); cond != nil {
		rec.Reason, rec.Message = cond.Reason, cond.Message
	}
	kind := cmapi.IssuerKind
	if issuer.GetNamespace() == "" {
		kind = cmapi.ClusterIssuerKind
	}
	rec.Issuer = &audit.Issuer{Kind: kind, Namespace: issuer.GetNamespace(), Name: issuer.GetName(), Type: string(typ)}
	rec.Certificate = &audit.Certificate{
		Serial: serial, SHA256Fingerprint: fingerprint,
		NotBefore: leaf.NotBefore.UTC().Format(time.RFC3339), NotAfter: leaf.NotAfter.UTC().Format(time.RFC3339),
	}
	return rec
}

func approvedCondition(c *certificatesv1.CertificateSigningRequest) *certificatesv1.CertificateSigningRequestCondition {
	for i := range c.Status.Conditions {
		if c.Status.Conditions[i].Type == certificatesv1.CertificateApproved {
			return &c.Status.Conditions[i]
		}
	}
	return nil
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
