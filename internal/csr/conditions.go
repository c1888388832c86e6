package csr

import (
	"slices"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The API server only admits Approved, Denied and Failed conditions with status
// True and never lets them be removed, so the presence of the type is the whole
// answer, as cert-manager's helpers take it too.

// IsApproved reports whether csr carries an Approved condition.
func IsApproved(csr *certificatesv1.CertificateSigningRequest) bool {
	return csr != nil && Condition(csr, certificatesv1.CertificateApproved) != nil
}

// IsDenied reports whether csr carries a Denied condition.
func IsDenied(csr *certificatesv1.CertificateSigningRequest) bool {
	return csr != nil && Condition(csr, certificatesv1.CertificateDenied) != nil
}

// IsFailed reports whether csr carries a Failed condition.
func IsFailed(csr *certificatesv1.CertificateSigningRequest) bool {
	return csr != nil && Condition(csr, certificatesv1.CertificateFailed) != nil
}

// IsIssued reports whether a signer has already written a certificate, the
// signal cert-manager's signers use to never sign the same CSR twice.
func IsIssued(csr *certificatesv1.CertificateSigningRequest) bool {
	return csr != nil && len(csr.Status.Certificate) > 0
}

// IsPending reports whether csr still awaits a decision: neither Approved,
// Denied nor Failed. Only such CSRs are the approval controller's to decide.
func IsPending(csr *certificatesv1.CertificateSigningRequest) bool {
	return csr != nil && !IsApproved(csr) && !IsDenied(csr) && !IsFailed(csr)
}

// Condition returns csr's condition of type typ, or nil.
func Condition(csr *certificatesv1.CertificateSigningRequest, typ certificatesv1.RequestConditionType) *certificatesv1.CertificateSigningRequestCondition {
	for i := range csr.Status.Conditions {
		if csr.Status.Conditions[i].Type == typ {
			return &csr.Status.Conditions[i]
		}
	}
	return nil
}

// FailedCondition is the condition a signer sets when a CSR can never be signed.
// The clock is the caller's so status writes are reproducible in tests; both
// timestamps are now because a Failed condition is set once and never changes.
func FailedCondition(reason, message string, now metav1.Time) certificatesv1.CertificateSigningRequestCondition {
	return certificatesv1.CertificateSigningRequestCondition{
		Type:               certificatesv1.CertificateFailed,
		Status:             corev1.ConditionTrue,
		Reason:             reason,
		Message:            message,
		LastUpdateTime:     now,
		LastTransitionTime: now,
	}
}

// ConditionWaiting is the operator's own condition on a CSR it is waiting on, saying why in words
// the requester can read with their own credentials (events live in another namespace, out of a
// requester's reach). Kubernetes admits condition types besides Approved, Denied and Failed.
const ConditionWaiting certificatesv1.RequestConditionType = "Waiting"

// SetWaiting sets csr's Waiting condition to reason and message and reports whether that changed
// it, so that a caller writes only a change.
func SetWaiting(csr *certificatesv1.CertificateSigningRequest, reason, message string, now metav1.Time) bool {
	if c := Condition(csr, ConditionWaiting); c != nil {
		if c.Reason == reason && c.Message == message {
			return false
		}
		c.Reason, c.Message, c.LastUpdateTime = reason, message, now
		return true
	}
	csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: ConditionWaiting, Status: corev1.ConditionTrue, Reason: reason, Message: message, LastUpdateTime: now, LastTransitionTime: now,
	})
	return true
}

// ClearWaiting removes csr's Waiting condition, in the write that ends the wait.
func ClearWaiting(csr *certificatesv1.CertificateSigningRequest) {
	csr.Status.Conditions = slices.DeleteFunc(csr.Status.Conditions, func(c certificatesv1.CertificateSigningRequestCondition) bool {
		return c.Type == ConditionWaiting
	})
}
