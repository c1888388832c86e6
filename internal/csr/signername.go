package csr

import (
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/cert-manager/cert-manager/pkg/apis/certmanager"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
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

// ParseSignerName resolves a CSR's spec.signerName to the cert-manager issuer it
// names; IssuerReference.SignerName is its inverse.
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
func ParseSignerName(name string) (policyv1alpha1.IssuerReference, error) {
	domain, _, _ := strings.Cut(name, "/")
	resourceType, group, _ := strings.Cut(domain, ".")
	if group != certmanager.GroupName {
		return policyv1alpha1.IssuerReference{}, fmt.Errorf("%w: %q is not in group %s", ErrNotCertManager, name, certmanager.GroupName)
	}
	kind, ok := kindOfType(resourceType)
	if !ok {
		return policyv1alpha1.IssuerReference{}, fmt.Errorf("%w: %q names type %q, not %s or %s",
			ErrNotCertManager, name, resourceType, issuersType, clusterIssuersType)
	}

	if n := strings.Count(name, "/"); n != 1 {
		return policyv1alpha1.IssuerReference{}, invalidSignerName(name, fmt.Sprintf("contains %d '/' where exactly one is allowed; must be %s", n, signerNameForm(kind)))
	}
	_, path, _ := strings.Cut(name, "/")
	if path == "" || path[0] == '.' {
		// With exactly one '/' and a known domain, cert-manager only refuses a
		// path that is empty or starts with '.'.
		return policyv1alpha1.IssuerReference{}, invalidSignerName(name, "path is empty or starts with '.', must be "+signerNameForm(kind))
	}
	out := splitSignerPath(kind, path)
	if problem := validateSignerRef(out); problem != "" {
		return policyv1alpha1.IssuerReference{}, invalidSignerName(name, problem+"; must be "+signerNameForm(kind))
	}
	return out, nil
}

// kindOfType maps a signerName's resource type to the issuer kind, as cert-manager does.
func kindOfType(resourceType string) (policyv1alpha1.IssuerKind, bool) {
	switch resourceType {
	case issuersType:
		return policyv1alpha1.IssuerKindIssuer, true
	case clusterIssuersType:
		return policyv1alpha1.IssuerKindClusterIssuer, true
	}
	return "", false
}

// splitSignerPath splits a signerName's path as cert-manager's SignerIssuerRefFromSignerName
// does (the signername tests hold the two to the same answers): a path without a dot is a name
// alone; a ClusterIssuer's name keeps its dots; an Issuer's namespace is the first segment.
// It is written out here so that this package needs none of cert-manager's controller code.
func splitSignerPath(kind policyv1alpha1.IssuerKind, path string) policyv1alpha1.IssuerReference {
	first, rest, dotted := strings.Cut(path, ".")
	if !dotted || kind == policyv1alpha1.IssuerKindClusterIssuer {
		return policyv1alpha1.IssuerReference{Kind: kind, Name: path}
	}
	return policyv1alpha1.IssuerReference{Kind: kind, Namespace: first, Name: rest}
}

// validateSignerRef returns why r cannot name a real object, or "" when it can.
// cert-manager's split accepts empty and oversized parts; the API server would
// never find such an issuer, so we say why here instead of failing at lookup.
func validateSignerRef(r policyv1alpha1.IssuerReference) string {
	var problems []string
	if r.Kind == policyv1alpha1.IssuerKindIssuer {
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

func signerNameForm(kind policyv1alpha1.IssuerKind) string {
	if kind == policyv1alpha1.IssuerKindClusterIssuer {
		return clusterIssuerSignerDomain + "/<name>"
	}
	return issuerSignerDomain + "/<namespace>.<name>"
}

func invalidSignerName(name, detail string) error {
	return field.Invalid(field.NewPath("spec", "signerName"), name, detail)
}
