package signer

import (
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/cert-manager/cert-manager/pkg/util/pki"

	"github.com/signerpolicy/signer-policy-operator/internal/csr"
)

// CertificateTemplate builds the certificate to sign for req, the way cert-manager's CA and
// SelfSigned CSR signers do: subject, SANs, public key and extensions come from the PKCS#10
// request; lifetime, basic constraints and key usages are overridden with what the gate
// decided, and the request must not encode values that disagree with them.
//
// The template is built from CSR.Spec.Request rather than from Parsed so that it shares no
// slices with the gate's parsed request, which other readers may hold. Errors about the
// request are *PermanentError: a CSR's spec cannot change, so neither can the outcome.
func CertificateTemplate(req Request) (*x509.Certificate, error) {
	if req.CSR == nil {
		return nil, errors.New("signer: request carries no CertificateSigningRequest")
	}
	// The gate always decides a duration; a zero one would issue a certificate that expires
	// as it is born, so refuse the caller's bug rather than sign it.
	if req.Duration <= 0 {
		return nil, fmt.Errorf("signer: request duration %s is not positive", req.Duration)
	}
	ku, eku, err := csr.KeyUsages(req.Usages)
	if err != nil {
		return nil, Permanent(ReasonErrorGenerating, "%v", err)
	}
	tmpl, err := pki.CertificateTemplateFromCSRPEM(req.CSR.Spec.Request,
		pki.CertificateTemplateOverrideDuration(req.Duration),
		withReason(ReasonBasicConstraintsMismatch,
			"spec.request does not match the requested isCA ("+csr.IsCAAnnotation+" annotation)",
			pki.CertificateTemplateValidateAndOverrideBasicConstraints(req.IsCA, nil)),
		withReason(ReasonKeyUsageMismatch, "spec.request does not match spec.usages",
			pki.CertificateTemplateValidateAndOverrideKeyUsages(ku, eku)),
	)
	if pe, ok := AsPermanent(err); ok {
		return nil, pe
	}
	if err != nil {
		return nil, Permanent(ReasonErrorGenerating, "cannot build a certificate from spec.request: %v", err)
	}
	return tmpl, nil
}

// withReason turns a cert-manager validator's plain error into a *PermanentError with its own
// reason. cert-manager reports both disagreements with one generic reason; telling them apart
// tells the requester which half of the CSR to fix.
func withReason(reason, what string, validate pki.CertificateTemplateValidatorMutator) pki.CertificateTemplateValidatorMutator {
	return func(req *x509.CertificateRequest, cert *x509.Certificate) error {
		if err := validate(req, cert); err != nil {
			return Permanent(reason, "%s: %v", what, err)
		}
		return nil
	}
}
