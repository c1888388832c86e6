package signer

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
)

// Signer issues certificates for one issuer type.
type Signer interface {
	// Sign returns the PEM chain for an approved request. It never writes the CSR except to
	// persist its own progress markers through req.Progress, and never its status: the signing
	// controller alone does. What a signer may write elsewhere is its backend's business, and
	// each says so: ACME stores generated account keys in Secrets and creates the HTTP-01
	// challenge Ingresses (and DNS-01 records on the issuer's nameserver); Vault asks the
	// TokenRequest API for service account tokens; CA, SelfSigned and Venafi write nothing.
	//
	// A *PendingError means "not yet" and a *PermanentError means "never for this CSR"; any
	// other error is retried with backoff, so it must only be returned for conditions that
	// can clear by themselves (API or network trouble).
	Sign(ctx context.Context, req Request) (PEMChain, error)
}

// Request is everything a signer needs. The signing controller has already run the shared
// gate (approval, issuer lookup, reference SubjectAccessReview, duration and policy bounds), so
// a signer checks only what is specific to its backend.
type Request struct {
	// CSR is the object being signed: the reconcile's own copy, which Progress updates in place
	// when it stores a marker. Signers must not modify it otherwise.
	CSR *certificatesv1.CertificateSigningRequest
	// Parsed is CSR.Spec.Request, decoded and signature-verified by the gate.
	Parsed *x509.CertificateRequest
	// Issuer is the Issuer or ClusterIssuer named by the CSR's signerName.
	Issuer cmapi.GenericIssuer
	// ResourceNamespace is where the issuer's Secrets live: the Issuer's namespace, or the
	// operator's --cluster-resource-namespace for a ClusterIssuer.
	ResourceNamespace string
	// Duration is the lifetime to issue for, decided by the gate from the annotation,
	// spec.expirationSeconds or the default, and already clamped to the governing policies.
	Duration time.Duration
	// IsCA is the requested basic constraint, already checked against policy.
	IsCA bool
	// Usages are spec.usages, already checked against policy.
	Usages []certificatesv1.KeyUsage
	// Progress lets long-running signers persist markers on the CSR before reporting
	// pending, so a restarted operator resumes the work instead of starting it again.
	Progress Progress
}

// Progress persists a signer's progress markers on the CSR being signed.
type Progress interface {
	// Annotate sets one annotation on the CSR and returns once the API server has stored it.
	Annotate(ctx context.Context, key, value string) error
}

// PEMChain is an issued certificate in PEM: the leaf first, then any intermediates, which is
// what status.certificate of a CertificateSigningRequest holds.
type PEMChain []byte

// RequestPEM is the PKCS#10 request the gate judged, re-encoded as one PEM block: what goes
// upstream to a signer that forwards the request. spec.request may carry text or other blocks
// around it, which the API server and the gate ignore but an upstream might read.
func (r Request) RequestPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: r.Parsed.Raw})
}
