// Package selfsigned signs CertificateSigningRequests for cert-manager SelfSigned issuers: the
// certificate is signed by its own private key, taken from the Secret the CSR names in the
// experimental.cert-manager.io/private-key-secret-name annotation.
package selfsigned

import (
	"context"
	"errors"
	"slices"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	experimentalapi "github.com/cert-manager/cert-manager/pkg/apis/experimental/v1alpha1"
	"github.com/cert-manager/cert-manager/pkg/util/pki"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// PrivateKeyAnnotation names the Secret, in the issuer's resource namespace, whose tls.key is
// the private key of the CSR's request. The key is cert-manager's, honoured as it documents it.
const PrivateKeyAnnotation = experimentalapi.CertificateSigningRequestPrivateKeyAnnotationKey

// Reasons specific to self-signing, named as cert-manager names them.
const (
	// ReasonMissingAnnotation: the CSR does not say where its private key is. Permanent, as
	// in cert-manager: the request was approved incomplete, and completing it afterwards
	// would sign something nobody approved, so the requester submits a new CSR.
	ReasonMissingAnnotation = "MissingAnnotation"
	// ReasonErrorKeyMatch: the key in the named Secret is not the request's key. Permanent:
	// the CSR's public key is fixed, and signing with another key would issue a certificate
	// whose signature belongs to a key the requester did not prove to hold.
	ReasonErrorKeyMatch = "ErrorKeyMatch"
)

// Signer self-signs requests with their own private key.
type Signer struct {
	secrets client.Reader
}

// New returns a SelfSigned signer that reads private key Secrets through secrets.
func New(secrets client.Reader) *Signer {
	return &Signer{secrets: secrets}
}

var _ signer.Signer = (*Signer)(nil)

// Sign returns the self-signed certificate for req; the chain is the certificate alone.
//
// The requester chooses the Secret, but can only get a certificate when its key matches the
// request, whose self-signature proves the requester already holds that key; naming someone
// else's Secret yields ErrorKeyMatch and never a signature with their key.
func (s *Signer) Sign(ctx context.Context, req signer.Request) (signer.PEMChain, error) {
	spec, err := selfSignedSpec(req.Issuer)
	if err != nil {
		return nil, err
	}
	if req.CSR == nil {
		return nil, errors.New("selfsigned signer: request carries no CertificateSigningRequest")
	}
	secretName := req.CSR.Annotations[PrivateKeyAnnotation]
	if secretName == "" {
		return nil, signer.Permanent(ReasonMissingAnnotation,
			"annotation %s is missing or empty; it must name the Secret holding the request's private key", PrivateKeyAnnotation)
	}
	tmpl, err := signer.CertificateTemplate(req)
	if err != nil {
		return nil, err
	}
	secret, err := signer.ReadSecret(ctx, s.secrets, req.ResourceNamespace, secretName, "annotation "+PrivateKeyAnnotation)
	if err != nil {
		return nil, err
	}
	key, err := signer.PrivateKeyFromSecret(secret, corev1.TLSPrivateKeyKey)
	if err != nil {
		return nil, err
	}
	if ok, err := pki.PublicKeysEqual(tmpl.PublicKey, key.Public()); err != nil || !ok {
		return nil, signer.Permanent(ReasonErrorKeyMatch,
			"the private key in Secret %s/%s does not match the public key of spec.request", secret.Namespace, secret.Name)
	}
	// cert-manager's SelfSigned CSR signer sets the issuer's CRL distribution points too.
	tmpl.CRLDistributionPoints = slices.Clone(spec.CRLDistributionPoints)

	certPEM, _, err := pki.SignCertificate(tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, signer.Permanent(signer.ReasonSigningError, "self-signing with the key in Secret %s/%s: %v",
			secret.Namespace, secret.Name, err)
	}
	return signer.PEMChain(certPEM), nil
}

func selfSignedSpec(issuer cmapi.GenericIssuer) (*cmapi.SelfSignedIssuer, error) {
	// Only the controller's dispatch can get this wrong; an error rather than a panic keeps
	// the other CSRs going.
	if issuer == nil || issuer.GetSpec() == nil || issuer.GetSpec().SelfSigned == nil {
		return nil, errors.New("selfsigned signer: issuer is not a SelfSigned issuer")
	}
	return issuer.GetSpec().SelfSigned, nil
}
