package controllers

import (
	"errors"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/signerpolicy/signer-policy-operator/internal/csr"
	"github.com/signerpolicy/signer-policy-operator/internal/policy"
)

// requestFor gathers the facts the evaluator needs from a CSR. A CSR that cannot be read is not
// an error of the operator: each fault becomes a field error on the request, which every policy
// then refuses by name.
func requestFor(c *certificatesv1.CertificateSigningRequest) policy.Request {
	req := policy.Request{SignerName: c.Spec.SignerName, Requester: requesterOf(c), Usages: c.Spec.Usages}
	parsed, err := csr.ParseRequest(c)
	if err != nil {
		req.Problems = append(req.Problems, asFieldError(err, field.NewPath("spec", "request")))
	}
	req.CSR = parsed
	if !policy.IsCertManagerSigner(c.Spec.SignerName) {
		return withOtherSignerLifetime(req, c)
	}
	if d, requested, err := csr.RequestedDuration(c); err != nil {
		req.Problems = append(req.Problems, asFieldError(err, field.NewPath("metadata", "annotations").Key(csr.DurationAnnotation)))
	} else if requested {
		req.Duration = d
	}
	isCA, err := csr.RequestedIsCA(c)
	if err != nil {
		req.Problems = append(req.Problems, asFieldError(err, field.NewPath("metadata", "annotations").Key(csr.IsCAAnnotation)))
	}
	req.IsCA = isCA
	return req
}

// requesterOf is the identity the API server recorded on the CSR.
func requesterOf(c *certificatesv1.CertificateSigningRequest) policy.Requester {
	username, uid, groups, extra := csr.Requester(c)
	return policy.Requester{Username: username, UID: uid, Groups: groups, Extra: extra}
}

// asFieldError keeps a helper's field error as it is, and files any other error under path.
func asFieldError(err error, path *field.Path) *field.Error {
	var fe *field.Error
	if errors.As(err, &fe) {
		return fe
	}
	return field.Invalid(path, "", err.Error())
}

// withOtherSignerLifetime gives a CSR for a signer that is not cert-manager's the lifetime its
// signer will read: spec.expirationSeconds alone. Such signers honour neither cert-manager
// annotation, so a request-duration annotation must not pass a short lifetime by the policy while
// the signer issues its own, and request-is-ca asks them for nothing.
func withOtherSignerLifetime(req policy.Request, c *certificatesv1.CertificateSigningRequest) policy.Request {
	if secs := c.Spec.ExpirationSeconds; secs != nil {
		if *secs <= 0 {
			req.Problems = append(req.Problems, field.Invalid(field.NewPath("spec", "expirationSeconds"), *secs, "must be positive"))
		} else {
			req.Duration = time.Duration(*secs) * time.Second
		}
	}
	return req
}
