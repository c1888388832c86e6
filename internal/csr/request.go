package csr

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/cert-manager/cert-manager/pkg/util/pki"
)

// pemTypeCSR is the only PEM block type the CSR API admits for spec.request.
const pemTypeCSR = "CERTIFICATE REQUEST"

// ParseRequest decodes and verifies the PKCS#10 request in spec.request.
//
// The PEM must hold exactly one CERTIFICATE REQUEST block. Text before the block
// is allowed, as encoding/pem, the API server and cert-manager all allow it
// (openssl req -text writes a human-readable dump there). Anything but whitespace
// after it is refused: cert-manager would silently ignore a second block, and
// policy must judge exactly the bytes that get signed.
//
// Decoding and parsing go through cert-manager's DecodeX509CertificateRequestBytes
// so its size limit protects the parser; the self-signature is then checked so a
// request cannot claim a public key whose private key the requester lacks.
func ParseRequest(csr *certificatesv1.CertificateSigningRequest) (*x509.CertificateRequest, error) {
	if csr == nil {
		return nil, errNilCSR
	}
	if err := checkRequestPEM(csr.Spec.Request); err != nil {
		return nil, err
	}
	req, err := pki.DecodeX509CertificateRequestBytes(csr.Spec.Request)
	if err != nil {
		return nil, requestError(fmt.Sprintf("cannot parse PKCS#10 request: %v", err))
	}
	if err := req.CheckSignature(); err != nil {
		return nil, requestError(fmt.Sprintf("signature does not verify: %v", err))
	}
	return req, nil
}

// checkRequestPEM enforces the block structure before any parsing, so a wrong
// block type is reported as such rather than as an ASN.1 error.
func checkRequestPEM(data []byte) error {
	block, rest := pem.Decode(data)
	if block == nil {
		return requestError("no PEM block found")
	}
	if block.Type != pemTypeCSR {
		return requestError(fmt.Sprintf("PEM block type is %q, must be %q", shorten(block.Type), pemTypeCSR))
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return requestError("unexpected data after the " + pemTypeCSR + " block")
	}
	return nil
}

// requestError names spec.request without echoing it: the PEM is long and
// useless in a condition message.
func requestError(detail string) error {
	return field.Invalid(field.NewPath("spec", "request"), field.OmitValueType{}, detail)
}
