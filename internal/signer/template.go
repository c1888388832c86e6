package signer

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"

	"github.com/cert-manager/cert-manager/pkg/util/pki"

	"github.com/signerpolicy/signer-policy-operator/internal/csr"
)

// CertificateTemplate builds the certificate to sign for req from what the gate decided and
// nothing else: the subject attributes and SANs the policy checked, the public key, the decided
// lifetime, basic constraints and key usages. cert-manager's template helper validates the
// request (its own BasicConstraints and usage extensions must agree with the decision) but its
// template is not signed as it is, because it copies the request's raw subject and extensions
// (name constraints, SAN types no policy governs) into the certificate. The issuer adds only its
// own extensions (key identifiers, CRL, OCSP and AIA URLs).
//
// Errors about the request are *PermanentError: a CSR's spec cannot change, so neither can the
// outcome.
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
		return nil, Permanent(ReasonErrorGenerating, "%w", err)
	}
	parsed := req.Parsed
	if parsed == nil {
		if parsed, err = csr.ParseRequest(req.CSR); err != nil {
			return nil, Permanent(ReasonErrorGenerating, "cannot build a certificate from spec.request: %w", err)
		}
	}
	// From the request the gate parsed and verified: checking its signature again would cost as
	// much as signing the certificate.
	validated, err := pki.CertificateTemplateFromCSR(parsed,
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
		return nil, Permanent(ReasonErrorGenerating, "cannot build a certificate from spec.request: %w", err)
	}
	return &x509.Certificate{
		PublicKeyAlgorithm: validated.PublicKeyAlgorithm,
		PublicKey:          validated.PublicKey,
		Subject:            DecidedSubject(validated.Subject),
		DNSNames:           validated.DNSNames,
		IPAddresses:        validated.IPAddresses,
		URIs:               validated.URIs,
		EmailAddresses:     validated.EmailAddresses,
		NotBefore:          validated.NotBefore,
		NotAfter:           validated.NotAfter,
		KeyUsage:           validated.KeyUsage,
		ExtKeyUsage:        validated.ExtKeyUsage,
		// A CA gets no path length limit from the CSR, as cert-manager issues it.
		BasicConstraintsValid: true,
		IsCA:                  validated.IsCA,
	}, nil
}

// DecidedSubject is the subject a certificate carries for a request's parsed subject: the
// attributes a policy governs, and no other. pkix.Name marshals its typed fields and
// ExtraNames, never Names, so anything else the request held (attributes the policy refuses
// anyway, or encodings the typed fields cannot express) stays out of the certificate.
func DecidedSubject(requested pkix.Name) pkix.Name {
	subject := pkix.Name{
		CommonName:         requested.CommonName,
		SerialNumber:       requested.SerialNumber,
		Country:            requested.Country,
		Organization:       requested.Organization,
		OrganizationalUnit: requested.OrganizationalUnit,
		Locality:           requested.Locality,
		Province:           requested.Province,
		StreetAddress:      requested.StreetAddress,
		PostalCode:         requested.PostalCode,
	}
	for _, atv := range requested.Names {
		if atv.Type.Equal(csr.OIDEmailAddress) {
			subject.ExtraNames = append(subject.ExtraNames, atv)
		}
	}
	return subject
}

// withReason turns a cert-manager validator's plain error into a *PermanentError with its own
// reason. cert-manager reports both disagreements with one generic reason; telling them apart
// tells the requester which half of the CSR to fix.
func withReason(reason, what string, validate pki.CertificateTemplateValidatorMutator) pki.CertificateTemplateValidatorMutator {
	return func(req *x509.CertificateRequest, cert *x509.Certificate) error {
		if err := validate(req, cert); err != nil {
			return Permanent(reason, "%s: %w", what, err)
		}
		return nil
	}
}
