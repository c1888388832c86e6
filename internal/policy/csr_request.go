package policy

import (
	"errors"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/csr"
)

// RequestForCSR gathers the facts the evaluator needs from a CSR, all but the namespace labels
// (see LabelledNamespaces), which the caller reads with its own client. A CSR that cannot be
// read is not an error of the caller: each fault becomes a field error on the request, which
// every policy then refuses by name. The approval controller and the kubectl plugin both build
// their requests here, so that what the plugin predicts is what the operator decides.
func RequestForCSR(c *certificatesv1.CertificateSigningRequest) Request {
	return RequestForCSRFrom(c, nil)
}

// RequestForCSRFrom is RequestForCSR with spec.request parsed through requests, which may be nil.
func RequestForCSRFrom(c *certificatesv1.CertificateSigningRequest, requests *csr.Requests) Request {
	req := Request{SignerName: c.Spec.SignerName, Requester: RequesterOf(c), Usages: c.Spec.Usages}
	parsed, err := requests.Parse(c)
	if err != nil {
		req.Problems = append(req.Problems, asFieldError(err, field.NewPath("spec", "request")))
	}
	req.CSR = parsed
	if !IsCertManagerSigner(c.Spec.SignerName) {
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

// withOtherSignerLifetime gives a CSR for a signer that is not cert-manager's the lifetime its
// signer will read: spec.expirationSeconds alone. Such signers honour neither cert-manager
// annotation, so a request-duration annotation must not pass a short lifetime by the policy while
// the signer issues its own, and request-is-ca asks them for nothing.
func withOtherSignerLifetime(req Request, c *certificatesv1.CertificateSigningRequest) Request {
	if secs := c.Spec.ExpirationSeconds; secs != nil {
		if *secs <= 0 {
			req.Problems = append(req.Problems, field.Invalid(field.NewPath("spec", "expirationSeconds"), *secs, "must be positive"))
		} else {
			req.Duration = time.Duration(*secs) * time.Second
		}
	}
	return req
}

// RequesterOf is the identity the API server recorded on the CSR.
func RequesterOf(c *certificatesv1.CertificateSigningRequest) Requester {
	username, uid, groups, extra := csr.Requester(c)
	return Requester{Username: username, UID: uid, Groups: groups, Extra: extra}
}

// asFieldError keeps a helper's field error as it is, and files any other error under path.
func asFieldError(err error, path *field.Path) *field.Error {
	var fe *field.Error
	if errors.As(err, &fe) {
		return fe
	}
	return field.Invalid(path, "", err.Error())
}

// LabelledNamespaces names the namespaces whose labels a CSR's policies may select on: that of
// its requesting service account (for service account selectors) and that of the Issuer its
// signer name names (for issuers.namespaceSelector). Each is "" when there is none: a requester
// who is no service account, a ClusterIssuer, or a signer name that names no issuer.
func LabelledNamespaces(username, signerName string) (serviceAccount, issuer string) {
	serviceAccount, _ = ServiceAccountNamespace(username)
	if ref, err := csr.ParseSignerName(signerName); err == nil && ref.Kind == v1alpha1.IssuerKindIssuer {
		issuer = ref.Namespace
	}
	return serviceAccount, issuer
}

// NamespaceLabels is a namespace's labels as the evaluator takes them: nil for a namespace that
// does not exist (ns nil), so that no selector selects it, and never nil for one that does, so
// that "no labels" and "no namespace" stay apart.
func NamespaceLabels(ns *corev1.Namespace) map[string]string {
	if ns == nil {
		return nil
	}
	if ns.Labels == nil {
		return map[string]string{}
	}
	return ns.Labels
}

// Governing returns the policies that govern signerName, sorted by name, as the evaluator finds
// them: issuerNamespaceLabels are the labels of an Issuer's namespace (nil for a ClusterIssuer
// or when they could not be read, and then no namespaceSelector selects it).
func Governing(policies []v1alpha1.SignerPolicy, signerName string, issuerNamespaceLabels map[string]string) []*v1alpha1.SignerPolicy {
	return governingPolicies(policies, &Request{SignerName: signerName, IssuerNamespaceLabels: issuerNamespaceLabels})
}

// IsReady reports whether a policy is in force as the evaluator sees it: Ready for its current
// generation.
func IsReady(p *v1alpha1.SignerPolicy) bool { return isReady(p) }

// IsManual reports whether the evaluator leaves a policy's CSRs to people; a mode it does not
// know counts as Manual.
func IsManual(p *v1alpha1.SignerPolicy) bool { return isManual(&p.Spec) }
