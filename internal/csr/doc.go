// Package csr holds pure helpers for certificates.k8s.io/v1 CertificateSigningRequests:
// parsing and formatting cert-manager signer names, reading the conditions the
// approval and signing controllers gate on, and turning a CSR's annotations, spec
// and PKCS#10 request into the facts policy evaluation and signing need.
//
// Nothing here talks to the API server. Where cert-manager already defines a
// behaviour (signer name grammar, annotation keys, key usage defaults) the
// helpers call cert-manager as a library, so a CSR means the same thing to this
// operator as it did to cert-manager's experimental CSR controllers. Where they
// are stricter than cert-manager, the doc comment says so and why.
//
// Errors about a CSR's content are *field.Error values whose path names the
// offending field or annotation, so a controller can copy them straight into a
// Failed condition or event and the requester knows what to change.
package csr
