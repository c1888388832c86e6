package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NamespacedSignerPolicy is a tenant's SignerPolicy: it lives in a namespace and governs Issuers
// of that namespace only, never ClusterIssuers, for requesters of that namespace. It speaks the
// SignerPolicy language and is in force only while a Ready SignerPolicy with spec.delegation
// governs its issuer; what it allows is then what both it and the delegating policy allow, at
// approval and at signing.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=nsp,categories=cert-manager
// +kubebuilder:printcolumn:name="Signers",type=string,JSONPath=`.status.signerNames`
// +kubebuilder:printcolumn:name="Approval",type=string,JSONPath=`.spec.approval.mode`
// +kubebuilder:printcolumn:name="Delegated by",type=string,JSONPath=`.status.delegations[*].policy`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type NamespacedSignerPolicy struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec says which Issuers of this namespace the policy governs, who may request from them, and
	// what they may get.
	// +required
	Spec NamespacedSignerPolicySpec `json:"spec"`

	// status is what the operator observed and generated for this policy.
	// +optional
	// +kubebuilder:default={observedGeneration: 0}
	Status NamespacedSignerPolicyStatus `json:"status,omitempty"`
}

// NamespacedSignerPolicySpec is a SignerPolicySpec confined to one namespace: it names Issuers
// and service accounts of its own namespace, and users and groups only where its delegation
// allows, never system: ones.
// +kubebuilder:validation:XValidation:rule="(has(self.issuerRef) ? 1 : 0) + (has(self.issuers) ? 1 : 0) == 1",message="must name exactly one of issuerRef (one Issuer of this namespace) and issuers (Issuers of this namespace by name pattern)"
// +kubebuilder:validation:XValidation:rule="!has(self.requesters.users) || self.requesters.users.all(u, !u.startsWith('system:'))",message="a namespaced policy may not name system: users: they are Kubernetes' own identities and other namespaces' service accounts",fieldPath=".requesters.users",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="!has(self.requesters.groups) || self.requesters.groups.all(g, !g.startsWith('system:'))",message="a namespaced policy may not name system: groups, such as system:authenticated or another namespace's system:serviceaccounts",fieldPath=".requesters.groups",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="!has(self.requesters.serviceAccountSelectors)",message="a namespaced policy names its service accounts one by one: a selector would reach other namespaces",fieldPath=".requesters.serviceAccountSelectors",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="!has(self.approval) || !has(self.approval.approvers) || !has(self.approval.approvers.users) || self.approval.approvers.users.all(u, !u.startsWith('system:'))",message="a namespaced policy may not name system: users as approvers",fieldPath=".approval.approvers.users",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="!has(self.approval) || !has(self.approval.approvers) || !has(self.approval.approvers.groups) || self.approval.approvers.groups.all(g, !g.startsWith('system:'))",message="a namespaced policy may not name system: groups as approvers",fieldPath=".approval.approvers.groups",reason=FieldValueForbidden
type NamespacedSignerPolicySpec struct {
	// issuerRef names the one Issuer of this namespace the policy governs.
	// +optional
	IssuerRef *LocalIssuerReference `json:"issuerRef,omitempty"`

	// issuers selects Issuers of this namespace by name pattern.
	// +optional
	Issuers *LocalIssuerSelector `json:"issuers,omitempty"`

	// requesters are the service accounts of this namespace, and the users and groups where the
	// delegation allows them, that may request certificates from the Issuers. A service account
	// of another namespace keeps the policy from being Ready.
	// +required
	// +kubebuilder:validation:XValidation:rule="(has(self.users) ? size(self.users) : 0) + (has(self.groups) ? size(self.groups) : 0) + (has(self.serviceAccounts) ? size(self.serviceAccounts) : 0) > 0",message="must name at least one user, group or service account",reason=FieldValueRequired
	Requesters Subjects `json:"requesters"`

	// approval says whether the operator decides CSRs itself or leaves them to the approvers, as
	// the delegation's approvalModes permit.
	// +optional
	// +kubebuilder:default={mode: Automatic}
	Approval Approval `json:"approval,omitempty"`

	// duration bounds the lifetime of issued certificates, within the delegation's duration.
	// +optional
	Duration *DurationBounds `json:"duration,omitempty"`

	// allowCA permits certificates with the CA flag set, where the delegation's allowCA does too.
	// +optional
	// +kubebuilder:default=false
	AllowCA bool `json:"allowCA,omitempty"`

	// usages is the set of key usages a CSR may request, within the delegation's usages.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=23
	Usages []KeyUsage `json:"usages,omitempty"`

	// allowed lists the patterns each subject and SAN attribute of a CSR must match, as in a
	// SignerPolicy; a CSR must match the delegation's allowed patterns too.
	// +optional
	Allowed Allowed `json:"allowed,omitempty"`

	// privateKey restricts the requester's key, within the delegation's privateKey.
	// +optional
	PrivateKey *PrivateKeyPolicy `json:"privateKey,omitempty"`

	// validations are CEL rules every CSR under the policy must satisfy, beside the delegation's.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	Validations []Validation `json:"validations,omitempty"`
}

// LocalIssuerReference names an Issuer of the policy's own namespace.
type LocalIssuerReference struct {
	// name is the Issuer's name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule=`self.matches('^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$')`,message="must be an Issuer's name: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit; to govern Issuers by pattern, use spec.issuers"
	Name string `json:"name"`
}

// LocalIssuerSelector selects Issuers of the policy's own namespace by name.
type LocalIssuerSelector struct {
	// names are patterns of Issuer names, in which `*` matches any run of characters.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:XValidation:rule="self.matches('^[-a-z0-9.*]+$')",message="may hold only lower-case letters, digits, hyphens, dots and *"
	Names []string `json:"names"`
}

// Delegation lets tenants write NamespacedSignerPolicies for the Issuers the delegating
// SignerPolicy governs, in those Issuers' namespaces. The delegating policy's own rules (duration,
// allowCA, usages, allowed, privateKey and validations) are the most any such policy may allow:
// a CSR under a namespaced policy must satisfy both. Its requesters are its own; they are no
// bound on the tenants'.
type Delegation struct {
	// approvalModes are the approval modes namespaced policies may use. A namespaced policy with
	// another mode is not in force.
	// +optional
	// +listType=set
	// +kubebuilder:default={Automatic,Manual}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=2
	ApprovalModes []ApprovalMode `json:"approvalModes,omitempty"`

	// users permits namespaced policies to name users, other than system: ones, as requesters and
	// approvers. Off, they name only service accounts of their own namespace.
	// +optional
	Users bool `json:"users,omitempty"`

	// groups permits namespaced policies to name groups, other than system: ones, as requesters
	// and approvers.
	// +optional
	Groups bool `json:"groups,omitempty"`
}

// NamespacedSignerPolicyStatus is the observed state of a NamespacedSignerPolicy.
type NamespacedSignerPolicyStatus struct {
	// observedGeneration is the generation of the spec this status describes.
	// +optional
	// +kubebuilder:default=0
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// signerNames are the signer names of the existing Issuers the policy governs, sorted: what a
	// CSR's spec.signerName must be to come under it.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=1024
	SignerNames []string `json:"signerNames,omitempty"`

	// delegations are the Ready SignerPolicies whose delegation puts this policy in force, with
	// the bounds that follow from each; a CSR is allowed when this policy and one of them allow it.
	// +optional
	// +listType=map
	// +listMapKey=policy
	// +kubebuilder:validation:MaxItems=16
	Delegations []DelegationStatus `json:"delegations,omitempty"`

	// conditions report whether the policy is in force: Ready is True once a delegation covers
	// it, its Issuers exist and are of a type the operator signs for, and its RBAC is applied.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// rbac lists the Roles, RoleBindings, ClusterRoles and ClusterRoleBindings the operator
	// generated for this policy.
	// +optional
	// +listType=atomic
	RBAC []GeneratedObject `json:"rbac,omitempty"`
}

// DelegationStatus is one delegation covering a namespaced policy, and the bounds that hold under
// it: each the narrower of the namespaced policy's and the delegating policy's. The delegating
// policy's allowed patterns, privateKey and validations apply as well.
type DelegationStatus struct {
	// policy is the delegating SignerPolicy.
	Policy string `json:"policy"`

	// maxDuration is the longest lifetime a certificate may get; empty when neither policy sets
	// a max.
	// +optional
	MaxDuration *metav1.Duration `json:"maxDuration,omitempty"`

	// allowCA is true only when both policies allow CA certificates.
	AllowCA bool `json:"allowCA"`

	// usages are the key usages both policies allow.
	// +optional
	// +listType=atomic
	Usages []KeyUsage `json:"usages,omitempty"`
}

// Condition reasons of a NamespacedSignerPolicy beside those of a SignerPolicy.
const (
	// ReasonNotDelegated: no Ready SignerPolicy delegates the policy's Issuers to its namespace.
	ReasonNotDelegated = "NotDelegated"
	// ReasonBeyondDelegation: the policy names what no covering delegation permits (an approval
	// mode, users, groups, or another namespace's service accounts).
	ReasonBeyondDelegation = "BeyondDelegation"
)

// +kubebuilder:object:root=true

// NamespacedSignerPolicyList is a list of NamespacedSignerPolicies.
type NamespacedSignerPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the NamespacedSignerPolicies.
	Items []NamespacedSignerPolicy `json:"items"`
}
