package controllers

import (
	certificatesv1 "k8s.io/api/certificates/v1"

	"github.com/signerpolicy/signer-policy-operator/internal/csr"
	"github.com/signerpolicy/signer-policy-operator/internal/policy"
)

// requestFor gathers the facts the evaluator needs from a CSR, its request parsed through
// requests (nil parses it anew); the kubectl plugin builds its requests with the same function,
// so that it predicts what the operator decides.
func requestFor(c *certificatesv1.CertificateSigningRequest, requests *csr.Requests) policy.Request {
	return policy.RequestForCSRFrom(c, requests)
}

// requesterOf is the identity the API server recorded on the CSR.
func requesterOf(c *certificatesv1.CertificateSigningRequest) policy.Requester {
	return policy.RequesterOf(c)
}
