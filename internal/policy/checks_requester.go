package policy

import (
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

func (ev *evaluation) checkRequester(spec *v1alpha1.SignerPolicySpec) field.ErrorList {
	if ev.isRequester(&spec.Requesters) {
		return nil
	}
	return field.ErrorList{field.Forbidden(field.NewPath("spec", "requesters"), fmt.Sprintf(
		"%q is not a listed user, a member of a listed group, a listed service account, or a service account a selector selects",
		ev.facts.id.username))}
}

func (ev *evaluation) isRequester(s *v1alpha1.Subjects) bool {
	f := &ev.facts
	if slices.Contains(s.Users, f.id.username) {
		return true
	}
	for _, g := range f.groups {
		if slices.Contains(s.Groups, g) {
			return true
		}
	}
	if !f.id.isServiceAccount {
		return false
	}
	if slices.ContainsFunc(s.ServiceAccounts, func(sa v1alpha1.ServiceAccountReference) bool {
		return sa.Namespace == f.id.saNamespace && sa.Name == f.id.saName
	}) {
		return true
	}
	return slices.ContainsFunc(s.ServiceAccountSelectors, ev.selects)
}

// selects reports whether the selector selects the requesting service account: its namespace's
// labels, as the caller read them, match, and so does its name. Without the labels (the namespace
// is gone, or the caller could not read it) or with a selector that does not parse, it selects
// nobody.
func (ev *evaluation) selects(sel v1alpha1.ServiceAccountSelector) bool {
	nsLabels := ev.req.ServiceAccountNamespaceLabels
	if nsLabels == nil {
		return false
	}
	selector, err := metav1.LabelSelectorAsSelector(&sel.NamespaceSelector)
	if err != nil || selector.Empty() || !selector.Matches(labels.Set(nsLabels)) {
		return false
	}
	return len(sel.Names) == 0 || globAny(sel.Names, ev.facts.id.saName)
}

// validateSelectors reports the namespace selectors that do not parse (an operator Kubernetes does
// not know, values where none belong), which select nothing.
func validateSelectors(spec *v1alpha1.SignerPolicySpec) field.ErrorList {
	var errs field.ErrorList
	if sel := spec.Issuers; sel != nil && sel.NamespaceSelector != nil {
		if _, err := metav1.LabelSelectorAsSelector(sel.NamespaceSelector); err != nil {
			errs = append(errs, field.Invalid(field.NewPath("spec", "issuers", "namespaceSelector"), "", "does not parse, so it selects nothing: "+err.Error()))
		}
	}
	s := &spec.Requesters
	for i := range s.ServiceAccountSelectors {
		if _, err := metav1.LabelSelectorAsSelector(&s.ServiceAccountSelectors[i].NamespaceSelector); err != nil {
			errs = append(errs, field.Invalid(field.NewPath("spec", "requesters", "serviceAccountSelectors").Index(i).Child("namespaceSelector"),
				"", "does not parse, so it selects nobody: "+err.Error()))
		}
	}
	return errs
}

// ServiceAccountNamespace returns the namespace of the service account a username names, as the
// evaluator reads it: only system:serviceaccount:<namespace>:<name> with both parts present.
// Callers read that namespace's labels for Request.ServiceAccountNamespaceLabels.
func ServiceAccountNamespace(username string) (string, bool) {
	id := identityOf(Requester{Username: username})
	return id.saNamespace, id.isServiceAccount
}
