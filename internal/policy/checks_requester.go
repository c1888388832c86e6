package policy

import (
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

func checkRequester(spec *v1alpha1.SignerPolicySpec, f *facts) field.ErrorList {
	if isRequester(&spec.Requesters, f) {
		return nil
	}
	return field.ErrorList{field.Forbidden(field.NewPath("spec", "requesters"),
		fmt.Sprintf("%q is not a listed user, a member of a listed group, or a listed service account", f.id.username))}
}

func isRequester(s *v1alpha1.Subjects, f *facts) bool {
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
	return slices.ContainsFunc(s.ServiceAccounts, func(sa v1alpha1.ServiceAccountReference) bool {
		return sa.Namespace == f.id.saNamespace && sa.Name == f.id.saName
	})
}
