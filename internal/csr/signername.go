package csr

import (
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/cert-manager/cert-manager/pkg/apis/certmanager"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
)

// Kinds a SignerRef can name; the values are cert-manager's Kind names.
const (
	KindIssuer        = cmapi.IssuerKind
	KindClusterIssuer = cmapi.ClusterIssuerKind
)

// The resource types cert-manager uses as the first label of a signer name, and
// the domains they make with cert-manager's group.
const (
	issuersType        = "issuers"
	clusterIssuersType = "clusterissuers"

	issuerSignerDomain        = issuersType + "." + certmanager.GroupName
	clusterIssuerSignerDomain = clusterIssuersType + "." + certmanager.GroupName
)

// ErrNotCertManager marks a signer name that does not belong to a cert-manager
// Issuer or ClusterIssuer. Such CSRs belong to someone else (kube-controller-manager,
// an external issuer, another approver), so callers test for it with errors.Is and
// leave the CSR alone without events or conditions.
var ErrNotCertManager = errors.New("signer name is not a cert-manager issuer")

// SignerRef is the issuer a CSR's spec.signerName points at.
type SignerRef struct {
	// Kind is KindIssuer or KindClusterIssuer.
	Kind string
	// Namespace is the Issuer's namespace; empty for a ClusterIssuer.
	Namespace string
	// Name is the issuer's name; it may contain dots.
	Name string
}

// SignerName formats r as a CSR spec.signerName, the inverse of ParseSignerName:
// issuers.cert-manager.io/<namespace>.<name> or clusterissuers.cert-manager.io/<name>.
func (r SignerRef) SignerName() string {
	if r.Kind == KindClusterIssuer {
		return clusterIssuerSignerDomain + "/" + r.Name
	}
	return issuerSignerDomain + "/" + r.Namespace + "." + r.Name
}

// ParseSignerName resolves a CSR's spec.signerName to the cert-manager issuer it
// names.
//
// Whether a name is ours is decided by its domain alone, exactly as cert-manager's
// CSR controllers decide it: group cert-manager.io with type issuers or
// clusterissuers. Anything else returns an error wrapping ErrNotCertManager.
//
// The path is split as cert-manager's own SignerIssuerRefFromSignerName splits it, so an
// Issuer's namespace is the first dot-separated segment and the rest is its name,
// and a ClusterIssuer's name keeps its dots. Unlike cert-manager, which silently
// skips names it cannot split and would look up an Issuer with an empty namespace,
// a malformed name aimed at us is an error naming spec.signerName: the requester
// clearly meant one of our issuers and deserves to be told why it was refused.
func ParseSignerName(name string) (SignerRef, error) {
	domain, _, _ := strings.Cut(name, "/")
	resourceType, group, _ := strings.Cut(domain, ".")
	if group != certmanager.GroupName {
		return SignerRef{}, fmt.Errorf("%w: %q is not in group %s", ErrNotCertManager, name, certmanager.GroupName)
	}
	kind, ok := kindOfType(resourceType)
	if !ok {
		return SignerRef{}, fmt.Errorf("%w: %q names type %q, not %s or %s",
			ErrNotCertManager, name, resourceType, issuersType, clusterIssuersType)
	}

	if n := strings.Count(name, "/"); n != 1 {
		return SignerRef{}, invalidSignerName(name, fmt.Sprintf("contains %d '/' where exactly one is allowed; must be %s", n, signerNameForm(kind)))
	}
	_, path, _ := strings.Cut(name, "/")
	if path == "" || path[0] == '.' {
		// With exactly one '/' and a known domain, cert-manager only refuses a
		// path that is empty or starts with '.'.
		return SignerRef{}, invalidSignerName(name, "path is empty or starts with '.', must be "+signerNameForm(kind))
	}
	out := splitSignerPath(kind, path)
	if problem := validateSignerRef(out); problem != "" {
		return SignerRef{}, invalidSignerName(name, problem+"; must be "+signerNameForm(kind))
	}
	return out, nil
}

// kindOfType maps a signerName's resource type to the issuer kind, as cert-manager does.
func kindOfType(resourceType string) (string, bool) {
	switch resourceType {
	case issuersType:
		return KindIssuer, true
	case clusterIssuersType:
		return KindClusterIssuer, true
	}
	return "", false
}

// splitSignerPath splits a signerName's path as cert-manager's SignerIssuerRefFromSignerName
// does (the signername tests hold the two to the same answers): a path without a dot is a name
// alone; a ClusterIssuer's name keeps its dots; an Issuer's namespace is the first segment.
// It is written out here so that this package needs none of cert-manager's controller code.
func splitSignerPath(kind, path string) SignerRef {
	first, rest, dotted := strings.Cut(path, ".")
	if !dotted || kind == KindClusterIssuer {
		return SignerRef{Kind: kind, Name: path}
	}
	return SignerRef{Kind: kind, Namespace: first, Name: rest}
}

// validateSignerRef returns why r cannot name a real object, or "" when it can.
// cert-manager's split accepts empty and oversized parts; the API server would
// never find such an issuer, so we say why here instead of failing at lookup.
func validateSignerRef(r SignerRef) string {
	var problems []string
	if r.Kind == KindIssuer {
		if r.Namespace == "" {
			// cert-manager reads a path without a dot as a name alone.
			problems = append(problems, "namespace and name must be separated by '.'")
		} else if errs := validation.IsDNS1123Label(r.Namespace); len(errs) > 0 {
			problems = append(problems, fmt.Sprintf("namespace %q: %s", r.Namespace, strings.Join(errs, ", ")))
		}
	}
	if r.Name == "" {
		problems = append(problems, "name is missing")
	} else if errs := validation.IsDNS1123Subdomain(r.Name); len(errs) > 0 {
		problems = append(problems, fmt.Sprintf("name %q: %s", r.Name, strings.Join(errs, ", ")))
	}
	return strings.Join(problems, "; ")
}

func signerNameForm(kind string) string {
	if kind == KindClusterIssuer {
		return clusterIssuerSignerDomain + "/<name>"
	}
	return issuerSignerDomain + "/<namespace>.<name>"
}

func invalidSignerName(name, detail string) error {
	return field.Invalid(field.NewPath("spec", "signerName"), name, detail)
}
