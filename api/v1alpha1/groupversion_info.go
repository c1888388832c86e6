// Package v1alpha1 contains the SignerPolicy API of the policy.signerpolicy.dev group.
// +kubebuilder:object:generate=true
// +groupName=policy.signerpolicy.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the group and version of the SignerPolicy API.
var GroupVersion = schema.GroupVersion{Group: "policy.signerpolicy.dev", Version: "v1alpha1"}

// AddToScheme adds the API's types to a scheme. It is a function rather than a registry filled
// from init() so that importing the package has no side effects.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &SignerPolicy{}, &SignerPolicyList{}, &NamespacedSignerPolicy{}, &NamespacedSignerPolicyList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
