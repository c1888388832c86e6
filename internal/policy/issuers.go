package policy

import (
	"errors"
	"path"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/csr"
)

// Governs reports whether a policy governs the issuer ref: the one its issuerRef names, or one its
// issuers selection selects by kind, name and namespace. issuerNamespaceLabels are the labels of
// an Issuer's namespace as the caller read them, nil when it could not (then a namespaceSelector
// selects nothing). The issuer need not exist: a policy governs its CSRs all the same.
func Governs(spec *v1alpha1.SignerPolicySpec, ref v1alpha1.IssuerReference, issuerNamespaceLabels map[string]string) bool {
	if spec.IssuerRef != nil {
		return *spec.IssuerRef == ref
	}
	s := spec.Issuers
	if s == nil || s.Kind != ref.Kind {
		return false
	}
	if !globAny(s.Names, ref.Name) {
		return false
	}
	if ref.Kind == v1alpha1.IssuerKindClusterIssuer {
		return true
	}
	if len(s.Namespaces) > 0 && !globAny(s.Namespaces, ref.Namespace) {
		return false
	}
	return s.NamespaceSelector == nil || selectorMatches(s.NamespaceSelector, issuerNamespaceLabels)
}

// globAny matches a name against patterns of Kubernetes object names, in which `*` matches any run
// of characters; the schema lets the patterns hold nothing but name characters and `*`, so no
// other character is special, and a pattern that does not parse matches nothing.
func globAny(patterns []string, name string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool {
		ok, err := path.Match(p, name)
		return err == nil && ok
	})
}

// selectorMatches is false for labels the caller could not read and for a selector that does not
// parse or says nothing, so that doubt never widens a policy.
func selectorMatches(sel *metav1.LabelSelector, set map[string]string) bool {
	if set == nil {
		return false
	}
	selector, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && !selector.Empty() && selector.Matches(labels.Set(set))
}

// governing returns the policies that govern signerName, in the caller's order: for a cert-manager
// issuer's signer name those whose issuerRef or issuers name it, for any other signer name those
// whose spec.signerNames cover it. A malformed cert-manager signer name is governed by none.
func governing(policies []v1alpha1.SignerPolicy, signerName string, issuerNamespaceLabels map[string]string) []*v1alpha1.SignerPolicy {
	ref, err := csr.ParseSignerName(signerName)
	certManager := err == nil
	if err != nil && !errors.Is(err, csr.ErrNotCertManager) {
		return nil
	}
	var out []*v1alpha1.SignerPolicy
	for i := range policies {
		spec := &policies[i].Spec
		if certManager && Governs(spec, ref, issuerNamespaceLabels) || !certManager && governsSignerName(spec.SignerNames, signerName) {
			out = append(out, &policies[i])
		}
	}
	return out
}
