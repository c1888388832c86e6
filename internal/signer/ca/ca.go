// Package ca signs CertificateSigningRequests for cert-manager CA issuers, with the key pair in
// the Secret named by the issuer's spec.ca.secretName.
package ca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"slices"
	"sync"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"github.com/cert-manager/cert-manager/pkg/util/pki"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// secretNameField is how messages point at the issuer field naming the Secret.
const secretNameField = "spec.ca.secretName"

// Signer signs with a CA issuer's key pair.
type Signer struct {
	secrets client.Reader

	// keyPairs keeps each Secret's key pair as parsed and checked, for as long as the Secret's
	// UID and resourceVersion stay the same: parsing the key and checking the chain's signatures
	// for every CSR cost more than signing it.
	mu       sync.Mutex
	keyPairs map[client.ObjectKey]*keyPair
}

// keyPair is a CA Secret's checked key pair.
type keyPair struct {
	uid             types.UID
	resourceVersion string
	chain           []*x509.Certificate
	key             crypto.Signer
	// chainTail is what cert-manager's chain building puts after a leaf this CA signs (the
	// intermediates, never a self-signed root), learnt from the first signing, which builds it
	// with cert-manager's own code; nil until then.
	chainTail []byte
}

// New returns a CA signer that reads issuer Secrets through secrets.
func New(secrets client.Reader) *Signer {
	return &Signer{secrets: secrets, keyPairs: map[client.ObjectKey]*keyPair{}}
}

var _ signer.Signer = (*Signer)(nil)

// Sign issues a certificate for req signed by the issuer's CA and returns it followed by the
// CA's chain, as cert-manager's CA signer writes it into status.certificate: intermediates are
// included, a self-signed root is not (RFC 5246 7.4.2, and the CSR API documents the extra
// blocks as intermediates to present in TLS handshakes).
//
// The request is checked before the Secret is read, so a CSR that can never be signed fails at
// once instead of waiting for the issuer's Secret to appear.
func (s *Signer) Sign(ctx context.Context, req signer.Request) (signer.PEMChain, error) {
	spec, err := caSpec(req.Issuer)
	if err != nil {
		return nil, err
	}
	tmpl, err := signer.CertificateTemplate(req)
	if err != nil {
		return nil, err
	}
	kp, err := s.keyPair(ctx, req.ResourceNamespace, spec.SecretName)
	if err != nil {
		return nil, err
	}
	// Copies, because the issuer usually comes from the informer cache.
	tmpl.CRLDistributionPoints = slices.Clone(spec.CRLDistributionPoints)
	tmpl.OCSPServer = slices.Clone(spec.OCSPServers)
	tmpl.IssuingCertificateURL = slices.Clone(spec.IssuingCertificateURLs)

	chain, err := s.sign(kp, tmpl)
	if err != nil {
		// The key pair and chain were checked above, so a failure here is about this request
		// (for example a public key the CA cannot certify) and retrying gives the same answer.
		// cert-manager marks the CSR Failed here too.
		return nil, signer.Permanent(signer.ReasonSigningError, "signing with the CA in Secret %s/%s: %v",
			req.ResourceNamespace, spec.SecretName, err)
	}
	return chain, nil
}

// sign signs tmpl and returns the leaf followed by the CA's chain. The first signing with a key
// pair goes through cert-manager's SignCSRTemplate, which builds and checks the chain; later ones
// sign with cert-manager's SignCertificate (crypto/x509 checks each new signature against the CA)
// and append the chain the first one built, which depends on the CA alone.
func (s *Signer) sign(kp *keyPair, tmpl *x509.Certificate) (signer.PEMChain, error) {
	s.mu.Lock()
	tail := kp.chainTail
	s.mu.Unlock()
	if tail != nil {
		leaf, _, err := pki.SignCertificate(tmpl, kp.chain[0], tmpl.PublicKey, kp.key)
		if err != nil {
			return nil, err
		}
		return signer.PEMChain(append(leaf, tail...)), nil
	}
	// Clipped: SignCSRTemplate appends the leaf to the chain it is given, which concurrent first
	// signings with this key pair would otherwise write into the same spare capacity.
	bundle, err := pki.SignCSRTemplate(slices.Clip(kp.chain), kp.key, tmpl)
	if err != nil {
		return nil, err
	}
	// The bundle starts with the leaf, encoded as cert-manager encodes every certificate.
	if block, _ := pem.Decode(bundle.ChainPEM); block != nil {
		leaf := pem.EncodeToMemory(block)
		if rest, ok := bytes.CutPrefix(bundle.ChainPEM, leaf); ok {
			s.mu.Lock()
			kp.chainTail = append([]byte{}, rest...)
			s.mu.Unlock()
		}
	}
	return signer.PEMChain(bundle.ChainPEM), nil
}

func caSpec(issuer cmapi.GenericIssuer) (*cmapi.CAIssuer, error) {
	// Only the controller's dispatch can get this wrong; an error rather than a panic keeps
	// the other CSRs going.
	if issuer == nil || issuer.GetSpec() == nil || issuer.GetSpec().CA == nil {
		return nil, errors.New("ca signer: issuer is not a CA issuer")
	}
	return issuer.GetSpec().CA, nil
}

// keyPair loads the CA chain (tls.crt, then ca.crt if present, as cert-manager reads it) and
// the key that signs with chain[0]. Anything wrong with the Secret's contents is pending
// SecretInvalidData: the issuer's owner can repair the Secret and the CSR is signed then.
//
// Beyond cert-manager's CSR signer, the key must match the certificate, the certificate must
// be a CA, and the certificates must form one chain. cert-manager's issuer readiness check
// covers the CA flag, and its signer would mark the CSR Failed for the other two; checking
// here keeps a broken Secret from failing CSRs that a repaired Secret could sign.
//
// A key pair is parsed and checked once per version of its Secret.
func (s *Signer) keyPair(ctx context.Context, namespace, name string) (*keyPair, error) {
	secret, err := signer.ReadSecret(ctx, s.secrets, namespace, name, secretNameField)
	if err != nil {
		return nil, err
	}
	id := client.ObjectKey{Namespace: namespace, Name: name}
	s.mu.Lock()
	kp := s.keyPairs[id]
	s.mu.Unlock()
	if kp != nil && kp.uid == secret.UID && kp.resourceVersion == secret.ResourceVersion && secret.ResourceVersion != "" {
		return kp, nil
	}
	key, err := signer.PrivateKeyFromSecret(secret, corev1.TLSPrivateKeyKey)
	if err != nil {
		return nil, err
	}
	chain, err := certificates(secret)
	if err != nil {
		return nil, err
	}
	if ok, err := pki.PublicKeyMatchesCertificate(key.Public(), chain[0]); err != nil || !ok {
		return nil, invalid(secret, "tls.key does not belong to the first certificate in tls.crt")
	}
	if !chain[0].IsCA {
		return nil, invalid(secret, "the first certificate in tls.crt is not a CA")
	}
	if _, err := pki.ParseSingleCertificateChain(chain); err != nil {
		return nil, invalid(secret, "tls.crt and ca.crt do not form a single certificate chain: "+err.Error())
	}
	kp = &keyPair{uid: secret.UID, resourceVersion: secret.ResourceVersion, chain: chain, key: key}
	s.mu.Lock()
	s.keyPairs[id] = kp
	s.mu.Unlock()
	return kp, nil
}

// certificates decodes tls.crt and, like cert-manager, appends the first certificate of ca.crt.
// Certificates are public, so the decoder's errors may be quoted.
func certificates(secret *corev1.Secret) ([]*x509.Certificate, error) {
	data := secret.Data[corev1.TLSCertKey]
	if len(data) == 0 {
		return nil, invalid(secret, "tls.crt is missing")
	}
	chain, err := pki.DecodeX509CertificateChainBytes(data)
	if err != nil {
		return nil, invalid(secret, "tls.crt: "+err.Error())
	}
	if data := secret.Data[cmmeta.TLSCAKey]; len(data) > 0 {
		root, err := pki.DecodeX509CertificateBytes(data)
		if err != nil {
			return nil, invalid(secret, "ca.crt: "+err.Error())
		}
		chain = append(chain, root)
	}
	return chain, nil
}

func invalid(secret *corev1.Secret, detail string) error {
	return signer.Pending(signer.ReasonSecretInvalidData, "CA Secret %s/%s: %s", secret.Namespace, secret.Name, detail)
}
