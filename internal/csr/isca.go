package csr

import (
	"crypto/x509"
	"fmt"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/cert-manager/cert-manager/pkg/util/pki"
)

// RequestedIsCA reports whether the requester asked for a CA certificate through
// the experimental.cert-manager.io/request-is-ca annotation; absent means false.
//
// cert-manager treats every value other than "true" as false. We accept only
// "true" and "false" and reject the rest: "True" or "yes" very likely meant a CA,
// and silently issuing a leaf instead hides the mistake from the requester.
func RequestedIsCA(csr *certificatesv1.CertificateSigningRequest) (bool, error) {
	if csr == nil {
		return false, errNilCSR
	}
	value, ok := csr.Annotations[IsCAAnnotation]
	if !ok {
		return false, nil
	}
	switch value {
	case "true":
		return true, nil
	case "false":
		return false, nil
	default:
		return false, field.NotSupported(annotationPath(IsCAAnnotation), shorten(value), []string{"true", "false"})
	}
}

// BasicConstraintsIsCA reads the basic constraints extension the PKCS#10 request
// itself asks for. present is false when the request has none, in which case only
// the annotation decides. cert-manager's signers refuse a request whose encoded
// isCA disagrees with the annotation; callers compare the two the same way.
//
// A request carrying the extension twice is an error: the two copies could
// disagree and no reading of them is safe. crypto/x509, and so ParseRequest,
// already refuses to parse such a request; the check covers requests built by
// other means.
func BasicConstraintsIsCA(req *x509.CertificateRequest) (isCA bool, present bool, err error) {
	if req == nil {
		return false, false, requestError("no parsed request")
	}
	for _, ext := range req.Extensions {
		if !ext.Id.Equal(pki.OIDExtensionBasicConstraints) {
			continue
		}
		if present {
			return false, false, requestError("basic constraints extension appears more than once")
		}
		isCA, _, err = pki.UnmarshalBasicConstraints(ext.Value)
		if err != nil {
			return false, false, requestError(fmt.Sprintf("basic constraints extension: %v", err))
		}
		present = true
	}
	return isCA, present, nil
}
