package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SignerPolicy binds one cert-manager Issuer or ClusterIssuer to the people and workloads that
// may request certificates from it through the Kubernetes CertificateSigningRequest API, and to
// what those certificates may contain. The operator generates the RBAC the policy implies,
// approves or denies CSRs against it, and signs approved CSRs through the issuer.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=sp,categories=cert-manager
// +kubebuilder:printcolumn:name="Signers",type=string,JSONPath=`.status.signerNames`
// +kubebuilder:printcolumn:name="Approval",type=string,JSONPath=`.spec.approval.mode`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type SignerPolicy struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec says which issuer the policy governs, who may request from it, and what they may get.
	// +required
	Spec SignerPolicySpec `json:"spec"`

	// status is what the operator observed and generated for this policy. It defaults to an
	// observedGeneration of 0, so that GitOps tools read a policy the operator has not looked at
	// yet as in progress.
	// +optional
	// +kubebuilder:default={observedGeneration: 0}
	Status SignerPolicyStatus `json:"status,omitempty"`
}

// SignerPolicySpec is the desired state of a SignerPolicy.
// +kubebuilder:validation:XValidation:rule="(has(self.issuerRef) ? 1 : 0) + (has(self.issuers) ? 1 : 0) + (has(self.signerNames) ? 1 : 0) == 1",message="must name exactly one of issuerRef (one issuer), issuers (issuers by pattern and namespace) and signerNames (signers that are not cert-manager issuers)"
// +kubebuilder:validation:XValidation:rule="!has(self.kubeletServing) || (has(self.signerNames) && self.signerNames == ['kubernetes.io/kubelet-serving'])",message="kubeletServing holds the rules of kubelet serving certificates: it needs signerNames to be exactly [\"kubernetes.io/kubelet-serving\"]",fieldPath=".kubeletServing",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="!has(self.kubeletServing) || (!has(self.usages) && !has(self.allowed)) || (!has(self.usages) && !has(self.allowed.commonName) && !has(self.allowed.dnsNames) && !has(self.allowed.ipAddresses) && !has(self.allowed.uris) && !has(self.allowed.emailAddresses) && !has(self.allowed.organizations) && !has(self.allowed.organizationalUnits) && !has(self.allowed.countries) && !has(self.allowed.provinces) && !has(self.allowed.localities) && !has(self.allowed.streetAddresses) && !has(self.allowed.postalCodes) && !has(self.allowed.serialNumbers) && !has(self.allowed.required))",message="kubeletServing supplies the subject, SANs and usages of kubelet serving certificates: leave out usages and allowed, and narrow addresses with kubeletServing.ipAddresses and kubeletServing.dnsNames",fieldPath=".kubeletServing",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="!has(self.signerNames) || !self.signerNames.exists(n, n == 'kubernetes.io/kube-apiserver-client' || n == 'kubernetes.io/kube-apiserver-client-kubelet') || (has(self.allowed) && has(self.allowed.commonName) && size(self.allowed.commonName) > 0)",message="a kube-apiserver-client certificate authenticates as the user in its common name: list in allowed.commonName the users it may name, such as $(requester.username), and in allowed.organizations the groups",fieldPath=".allowed.commonName",reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="!has(self.signerNames) || !self.signerNames.exists(n, n.startsWith('kubernetes.io/')) || !has(self.approval) || !has(self.approval.approvers)",message="approvers cannot be named for Kubernetes' own signers: the right to approve for such a signer has no bounds (kube-controller-manager signs whatever is approved, a kube-apiserver-client certificate for any user or group), so approving stays with this policy's rules and with cluster administrators",fieldPath=".approval.approvers",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="has(self.delegation) || (has(self.requesters) && (has(self.requesters.users) ? size(self.requesters.users) : 0) + (has(self.requesters.groups) ? size(self.requesters.groups) : 0) + (has(self.requesters.serviceAccounts) ? size(self.requesters.serviceAccounts) : 0) + (has(self.requesters.serviceAccountSelectors) ? size(self.requesters.serviceAccountSelectors) : 0) > 0)",message="must name at least one user, group, service account or service account selector",fieldPath=".requesters",reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="!has(self.delegation) || (has(self.issuerRef) && self.issuerRef.kind == 'Issuer') || (has(self.issuers) && self.issuers.kind == 'Issuer')",message="only a policy governing Issuers may delegate: tenants govern Issuers of their own namespaces, never ClusterIssuers or other signers",fieldPath=".delegation",reason=FieldValueForbidden
type SignerPolicySpec struct {
	// issuerRef names the one cert-manager Issuer or ClusterIssuer this policy governs. CSRs reach
	// it through the signerName in status.signerNames. Exactly one of issuerRef and issuers.
	// +optional
	IssuerRef *IssuerReference `json:"issuerRef,omitempty"`

	// issuers selects the issuers this policy governs: Issuers or ClusterIssuers by name pattern,
	// and Issuers by namespace pattern and namespace labels. The policy governs an issuer's CSRs
	// whether or not the issuer exists yet; status.signerNames lists the existing ones.
	// +optional
	Issuers *IssuerSelector `json:"issuers,omitempty"`

	// signerNames are the signer names this policy governs that are not cert-manager issuers':
	// exact names such as kubernetes.io/kube-apiserver-client, or domain/* for every signer of a
	// domain, as RBAC's approve on signers reads it (example.com/*). For these signers the
	// operator approves and denies only; kube-controller-manager or the signer's own controller
	// signs. Names of cert-manager issuers go through issuerRef or issuers.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=507
	// +kubebuilder:validation:items:XValidation:rule=`self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+/([a-z0-9]([-a-z0-9.]*[a-z0-9])?|\\*)$')`,message="must be a signer name, domain/path such as example.com/my-signer, or domain/* for every signer of a domain; * stands only for the whole path"
	// +kubebuilder:validation:items:XValidation:rule=`!self.matches('^([^/]*\\.)?cert-manager\\.io/')`,message="is a cert-manager signer name: govern cert-manager issuers with spec.issuerRef or spec.issuers, which sign as well as approve"
	// +kubebuilder:validation:items:XValidation:rule=`self != 'kubernetes.io/*'`,message="names every kubernetes.io signer, kube-apiserver-client-kubelet included, which kube-controller-manager approves itself: name the kubernetes.io signers one by one"
	// +kubebuilder:validation:items:XValidation:rule=`self != 'kubernetes.io/kube-apiserver-client-kubelet'`,message="is the signer of kubelets' client certificates, which kube-controller-manager approves itself for bootstrap tokens and nodes: a policy for it would deny the CSRs that join nodes"
	SignerNames []string `json:"signerNames,omitempty"`

	// kubeletServing holds the rules of kubelet serving certificates, for a policy whose
	// signerNames are exactly ["kubernetes.io/kubelet-serving"]: the requester is a node
	// (system:node:<name> in group system:nodes), the subject is exactly
	// CN=system:node:<name>, O=system:nodes, the usages are those kubelets request, and every SAN
	// is a DNS name or IP address of the node's own Node object (status.addresses), within the
	// patterns and CIDRs here if given. The lifetime is bounded by duration.max, or one year.
	// +optional
	KubeletServing *KubeletServing `json:"kubeletServing,omitempty"`

	// requesters are the users, groups and service accounts that may request certificates from
	// the issuer. The operator grants them the right to create CSRs and to reference the issuer.
	// A policy with a delegation may name none: it then only bounds its tenants' policies.
	// +optional
	Requesters Subjects `json:"requesters,omitempty"`

	// delegation lets the namespaces of the Issuers this policy governs write
	// NamespacedSignerPolicies for those Issuers, each in force only within this policy's rules
	// (duration, allowCA, usages, allowed, privateKey and validations). Only a policy governing
	// Issuers, never ClusterIssuers or other signers, may delegate.
	// +optional
	Delegation *Delegation `json:"delegation,omitempty"`

	// approval says whether the operator decides CSRs itself or leaves them to people.
	// +optional
	// +kubebuilder:default={mode: Automatic}
	Approval Approval `json:"approval,omitempty"`

	// duration bounds the lifetime of issued certificates. Omitted: any lifetime from 10 minutes,
	// 90 days by default.
	// +optional
	Duration *DurationBounds `json:"duration,omitempty"`

	// allowCA permits certificates with the CA flag set (requested with the
	// experimental.cert-manager.io/request-is-ca annotation).
	// +optional
	// +kubebuilder:default=false
	AllowCA bool `json:"allowCA,omitempty"`

	// usages is the set of key usages a CSR may request. Omitted: "digital signature",
	// "key encipherment", "server auth" and "client auth".
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=23
	Usages []KeyUsage `json:"usages,omitempty"`

	// allowed lists the patterns each subject and SAN attribute of a CSR must match. An omitted
	// attribute means CSRs must leave it empty; a subject attribute, SAN type or extension that no
	// field governs is refused.
	//
	// In a pattern, `*` matches one segment: a DNS label, a URI path segment or an email local
	// part, never across '.', '/' or '@'; a wildcard DNS name (*.example.com) is allowed only by a
	// pattern whose leftmost label is `*`. The placeholders $(requester.username),
	// $(requester.serviceAccount.namespace) and $(requester.serviceAccount.name) are replaced
	// with the requester's identity before matching, and $(issuer.namespace) with the namespace
	// of the Issuer the CSR names; the serviceAccount ones match nothing for a requester that is
	// not a service account, and $(issuer.namespace) nothing for a ClusterIssuer. Values are
	// checked to be well formed before any pattern is tried. docs/reference.md has examples.
	// +optional
	Allowed Allowed `json:"allowed,omitempty"`

	// privateKey restricts the algorithm and size of the requester's key. Omitted: RSA of at least
	// 2048 bits, ECDSA of at least 256 bits, or Ed25519.
	// +optional
	PrivateKey *PrivateKeyPolicy `json:"privateKey,omitempty"`

	// validations are CEL rules every CSR under the policy must satisfy, beyond what the other
	// fields say: for example that a service account's DNS names end in its own namespace. A rule
	// sees `request` (the CSR's names, subject, usages, lifetime, CA flag and key) and `requester`
	// (who created the CSR); docs/reference.md lists every field. A rule that does not compile
	// keeps the policy from being Ready.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	Validations []Validation `json:"validations,omitempty"`
}

// KubeletServing narrows the addresses a node may put in its serving certificate, beyond its own
// Node object's status.addresses, which every SAN must be one of anyway.
type KubeletServing struct {
	// ipAddresses are CIDRs each IP address SAN must also fall within, such as the node network.
	// A kubelet writes its own Node's status, so the addresses it states are not proof enough.
	// Omitted: no IP address SAN is allowed.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=43
	// +kubebuilder:validation:items:XValidation:rule="isCIDR(self)",message="must be a CIDR such as 10.0.0.0/8 or 2001:db8::/32; a single address is written 10.0.0.1/32"
	IPAddresses []string `json:"ipAddresses,omitempty"`

	// dnsNames are patterns each DNS name SAN must also match, `*` matching one label, such as
	// *.nodes.example.com. Omitted: no DNS name SAN is allowed. localhost and Service names
	// (*.svc, *.svc.<cluster domain>) are never allowed.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:XValidation:rule=`self.matches('^[-a-zA-Z0-9.*]+$')`,message="may hold only letters, digits, hyphens, dots and *"
	DNSNames []string `json:"dnsNames,omitempty"`
}

// Validation is one CEL rule, with the message a requester reads when a CSR breaks it.
type Validation struct {
	// rule is a CEL expression that is true for a CSR the policy allows, such as
	// `request.dnsNames.all(n, n.endsWith("." + requester.serviceAccount.namespace + ".svc"))`.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	Rule string `json:"rule"`

	// message is what the requester reads when the rule is false, after the rule itself. Omitted:
	// "the CSR breaks the rule".
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Message string `json:"message,omitempty"`
}

// IssuerKind is the kind of a cert-manager issuer.
// +kubebuilder:validation:Enum=Issuer;ClusterIssuer
type IssuerKind string

const (
	// IssuerKindIssuer is a namespaced cert-manager Issuer.
	IssuerKindIssuer IssuerKind = "Issuer"
	// IssuerKindClusterIssuer is a cluster-scoped cert-manager ClusterIssuer.
	IssuerKindClusterIssuer IssuerKind = "ClusterIssuer"
)

// IssuerSelector selects cert-manager issuers of one kind, so that namespaced and cluster-wide
// issuers are never governed by the same rule by accident.
// +kubebuilder:validation:XValidation:rule="self.kind != 'Issuer' || has(self.namespaces) || has(self.namespaceSelector)",message="an Issuer selection must say which namespaces, by namespaces, namespaceSelector or both",fieldPath=".namespaces",reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="self.kind != 'ClusterIssuer' || (!has(self.namespaces) && !has(self.namespaceSelector))",message="ClusterIssuers have no namespace: leave out namespaces and namespaceSelector",fieldPath=".namespaces",reason=FieldValueForbidden
type IssuerSelector struct {
	// kind is Issuer (namespaced) or ClusterIssuer; the group is always cert-manager.io.
	// +required
	Kind IssuerKind `json:"kind"`

	// names are patterns of issuer names, in which `*` matches any run of characters: `*` alone
	// selects every issuer of the kind (in the selected namespaces).
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:XValidation:rule="self.matches('^[-a-z0-9.*]+$')",message="may hold only lower-case letters, digits, hyphens, dots and *"
	Names []string `json:"names"`

	// namespaces are patterns of the namespaces of Issuers, `*` matching any run of characters.
	// With namespaceSelector too, a namespace must match both.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:XValidation:rule="self.matches('^[-a-z0-9*]+$')",message="may hold only lower-case letters, digits, hyphens and *"
	Namespaces []string `json:"namespaces,omitempty"`

	// namespaceSelector selects the namespaces of Issuers by their labels. It must say something:
	// to select every namespace, write namespaces: ["*"].
	// +optional
	// +kubebuilder:validation:XValidation:rule="(has(self.matchLabels) && size(self.matchLabels) > 0) || (has(self.matchExpressions) && size(self.matchExpressions) > 0)",message="must hold matchLabels or matchExpressions; to select every namespace, write namespaces: [\"*\"]",reason=FieldValueRequired
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
}

// IssuerReference names a cert-manager issuer.
// +kubebuilder:validation:XValidation:rule="self.kind != 'Issuer' || has(self.__namespace__)",message="namespace is required for an Issuer",fieldPath=".namespace",reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="self.kind != 'ClusterIssuer' || !has(self.__namespace__)",message="namespace must not be set for a ClusterIssuer",fieldPath=".namespace",reason=FieldValueForbidden
type IssuerReference struct {
	// kind is Issuer (namespaced) or ClusterIssuer; the group is always cert-manager.io.
	// +required
	Kind IssuerKind `json:"kind"`

	// name is the issuer's name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule=`self.matches('^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$')`,message="must be an issuer's name: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit; to govern issuers by pattern, use spec.issuers"
	Name string `json:"name"`

	// namespace is the Issuer's namespace: required for an Issuer, forbidden for a ClusterIssuer.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule=`self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')`,message="must be a namespace's name: lower-case letters, digits and '-', starting and ending with a letter or digit; to govern Issuers of several namespaces, use spec.issuers"
	Namespace string `json:"namespace,omitempty"`
}

// Subjects names Kubernetes identities.
type Subjects struct {
	// users are user names exactly as the API server authenticates them.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=256
	Users []string `json:"users,omitempty"`

	// groups are group names exactly as the API server authenticates them.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=256
	Groups []string `json:"groups,omitempty"`

	// serviceAccounts are service accounts, authenticated as
	// system:serviceaccount:<namespace>:<name>.
	// +optional
	// +listType=map
	// +listMapKey=namespace
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=256
	ServiceAccounts []ServiceAccountReference `json:"serviceAccounts,omitempty"`

	// serviceAccountSelectors select service accounts by the labels of their namespace and by
	// their name, for requesters only. The operator grants the selected namespaces'
	// system:serviceaccounts:<namespace> groups the right to create CSRs, following namespaces as
	// they come, go and change labels, and decides each CSR from the service account that created
	// it. Whoever may label a namespace may thereby make its service accounts requesters; the
	// kubernetes.io/metadata.name label, which the API server sets, selects namespaces by name.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	ServiceAccountSelectors []ServiceAccountSelector `json:"serviceAccountSelectors,omitempty"`
}

// ServiceAccountSelector selects the service accounts of the namespaces whose labels match, by
// name.
type ServiceAccountSelector struct {
	// namespaceSelector selects namespaces by their labels. It must say something: an empty
	// selector would select every namespace, kube-system included.
	// +required
	// +kubebuilder:validation:XValidation:rule="(has(self.matchLabels) && size(self.matchLabels) > 0) || (has(self.matchExpressions) && size(self.matchExpressions) > 0)",message="must hold matchLabels or matchExpressions: an empty selector would select every namespace, kube-system included",reason=FieldValueRequired
	NamespaceSelector metav1.LabelSelector `json:"namespaceSelector"`

	// names are patterns the service account's name must match, in which `*` matches any run of
	// characters. Omitted: every service account of the selected namespaces.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:XValidation:rule="self.matches('^[-a-z0-9.*]+$')",message="may hold only lower-case letters, digits, hyphens, dots and *"
	Names []string `json:"names,omitempty"`
}

// ServiceAccountReference names a service account.
type ServiceAccountReference struct {
	// namespace is the service account's namespace.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule=`self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')`,message="must be a namespace's name: lower-case letters, digits and '-', starting and ending with a letter or digit; to select namespaces by label, use serviceAccountSelectors"
	Namespace string `json:"namespace"`

	// name is the service account's name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule=`self.matches('^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$')`,message="must be a service account's name: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit; to match names by pattern, use serviceAccountSelectors"
	Name string `json:"name"`
}

// ApprovalMode says who decides a CSR.
// +kubebuilder:validation:Enum=Automatic;Manual
type ApprovalMode string

const (
	// ApprovalAutomatic: the operator approves what the policy allows and denies what it does not.
	ApprovalAutomatic ApprovalMode = "Automatic"
	// ApprovalManual: people approve; the operator only reports its evaluation in events.
	ApprovalManual ApprovalMode = "Manual"
)

// Approval configures how CSRs under the policy are approved.
type Approval struct {
	// mode is Automatic (the operator approves what the policy allows and denies the rest) or
	// Manual (the approvers decide; the operator records its evaluation as an event).
	// +optional
	// +kubebuilder:default=Automatic
	Mode ApprovalMode `json:"mode,omitempty"`

	// approvers get the right to approve and deny CSRs for this policy's signerName, for example
	// with `kubectl certificate approve`. Requesting and approving stay separate powers.
	// +optional
	// +kubebuilder:validation:XValidation:rule="!has(self.serviceAccountSelectors)",message="approvers are named one by one: a selector would grant approval to every service account of the namespaces it selects",fieldPath=".serviceAccountSelectors",reason=FieldValueForbidden
	Approvers *Subjects `json:"approvers,omitempty"`
}

// DurationBounds bounds a certificate's lifetime. Values are Go durations such as 720h or 90m.
// Each rule below leaves a value that is not a duration to the field's own rule, so a wrong unit
// gets one message that says what to write, not a type error.
// +kubebuilder:validation:XValidation:rule=`!has(self.min) || !self.min.matches('^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$') || duration(self.min) >= duration('10m')`,message="must be at least 10m, the shortest lifetime Kubernetes and cert-manager issue",fieldPath=".min"
// +kubebuilder:validation:XValidation:rule=`!has(self.max) || !self.max.matches('^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$') || duration(self.max) >= duration('10m')`,message="must be at least 10m, the shortest lifetime Kubernetes and cert-manager issue",fieldPath=".max"
// +kubebuilder:validation:XValidation:rule=`!has(self.default) || !self.default.matches('^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$') || duration(self.default) >= duration('10m')`,message="must be at least 10m, the shortest lifetime Kubernetes and cert-manager issue",fieldPath=".default"
// +kubebuilder:validation:XValidation:rule=`!has(self.min) || !has(self.max) || !self.min.matches('^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$') || !self.max.matches('^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$') || duration(self.min) <= duration(self.max)`,message="min must not be greater than max",fieldPath=".min"
// +kubebuilder:validation:XValidation:rule=`!has(self.default) || !has(self.min) || !self.min.matches('^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$') || !self.default.matches('^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$') || duration(self.min) <= duration(self.default)`,message="must lie between min and max",fieldPath=".default"
// +kubebuilder:validation:XValidation:rule=`!has(self.default) || !has(self.max) || !self.default.matches('^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$') || !self.max.matches('^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$') || duration(self.default) <= duration(self.max)`,message="must lie between min and max",fieldPath=".default"
type DurationBounds struct {
	// min is the shortest lifetime a CSR may request; at least 10m.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule=`self.matches('^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$')`,message="must be a positive duration in hours, minutes or seconds, such as 2160h or 90m (days are not a unit: write 90d as 2160h)"
	// +kubebuilder:validation:MaxLength=32
	Min *metav1.Duration `json:"min,omitempty"`

	// max is the longest lifetime a certificate gets: longer requests are denied on approval and
	// clamped to max on signing.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule=`self.matches('^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$')`,message="must be a positive duration in hours, minutes or seconds, such as 2160h or 90m (days are not a unit: write 90d as 2160h)"
	// +kubebuilder:validation:MaxLength=32
	Max *metav1.Duration `json:"max,omitempty"`

	// default is the lifetime of a CSR that requests none. Omitted: 90 days, or max when shorter.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule=`self.matches('^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$')`,message="must be a positive duration in hours, minutes or seconds, such as 2160h or 90m (days are not a unit: write 90d as 2160h)"
	// +kubebuilder:validation:MaxLength=32
	Default *metav1.Duration `json:"default,omitempty"`
}

// KeyUsage is one of the key usages of the certificates.k8s.io/v1 API.
// +kubebuilder:validation:Enum="signing";"digital signature";"content commitment";"key encipherment";"key agreement";"data encipherment";"cert sign";"crl sign";"encipher only";"decipher only";"any";"server auth";"client auth";"code signing";"email protection";"s/mime";"ipsec end system";"ipsec tunnel";"ipsec user";"timestamping";"ocsp signing";"microsoft sgc";"netscape sgc"
type KeyUsage string

// Allowed lists patterns for the subject and SANs of a CSR. In every pattern, `*` matches one
// segment: a DNS label, a URI path segment or an email local part (it never spans '.', '/' or
// '@'). The placeholders $(requester.username), $(requester.serviceAccount.namespace) and
// $(requester.serviceAccount.name) are replaced with the requester's identity before matching, so
// one policy can let each service account name only itself or its own namespace; for a requester
// that is not a service account the serviceAccount placeholders match nothing. $(issuer.namespace)
// is the namespace of the Issuer the CSR names, so a delegating policy can confine every tenant to
// names of its own namespace; it matches nothing for a ClusterIssuer.
//
// Before any pattern is tried, each DNS name, email address and URI must be well formed (a DNS
// name of letter, digit and hyphen labels, internationalized names as xn-- A-labels, a wildcard
// only as its whole leftmost label), and subject values must be UTF-8 without control characters.
// A wildcard DNS name matches only patterns whose own leftmost label is `*`. A CSR holding a
// subject attribute, SAN type or extension that no field here governs is refused.
// +kubebuilder:validation:XValidation:rule="!has(self.required) || !('commonName' in self.required) || (has(self.commonName) && size(self.commonName) > 0)",message="lists commonName without allowing any value of it: an attribute the policy requires must also list its allowed patterns",fieldPath=".required",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="!has(self.required) || !('dnsNames' in self.required) || (has(self.dnsNames) && size(self.dnsNames) > 0)",message="lists dnsNames without allowing any value of it: an attribute the policy requires must also list its allowed patterns",fieldPath=".required",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="!has(self.required) || !('ipAddresses' in self.required) || (has(self.ipAddresses) && size(self.ipAddresses) > 0)",message="lists ipAddresses without allowing any value of it: an attribute the policy requires must also list its allowed patterns",fieldPath=".required",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="!has(self.required) || !('uris' in self.required) || (has(self.uris) && size(self.uris) > 0)",message="lists uris without allowing any value of it: an attribute the policy requires must also list its allowed patterns",fieldPath=".required",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="!has(self.required) || !('emailAddresses' in self.required) || (has(self.emailAddresses) && size(self.emailAddresses) > 0)",message="lists emailAddresses without allowing any value of it: an attribute the policy requires must also list its allowed patterns",fieldPath=".required",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="!has(self.required) || !('organizations' in self.required) || (has(self.organizations) && size(self.organizations) > 0)",message="lists organizations without allowing any value of it: an attribute the policy requires must also list its allowed patterns",fieldPath=".required",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="!has(self.required) || !('organizationalUnits' in self.required) || (has(self.organizationalUnits) && size(self.organizationalUnits) > 0)",message="lists organizationalUnits without allowing any value of it: an attribute the policy requires must also list its allowed patterns",fieldPath=".required",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="!has(self.required) || !('countries' in self.required) || (has(self.countries) && size(self.countries) > 0)",message="lists countries without allowing any value of it: an attribute the policy requires must also list its allowed patterns",fieldPath=".required",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="!has(self.required) || !('provinces' in self.required) || (has(self.provinces) && size(self.provinces) > 0)",message="lists provinces without allowing any value of it: an attribute the policy requires must also list its allowed patterns",fieldPath=".required",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="!has(self.required) || !('localities' in self.required) || (has(self.localities) && size(self.localities) > 0)",message="lists localities without allowing any value of it: an attribute the policy requires must also list its allowed patterns",fieldPath=".required",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="!has(self.required) || !('streetAddresses' in self.required) || (has(self.streetAddresses) && size(self.streetAddresses) > 0)",message="lists streetAddresses without allowing any value of it: an attribute the policy requires must also list its allowed patterns",fieldPath=".required",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="!has(self.required) || !('postalCodes' in self.required) || (has(self.postalCodes) && size(self.postalCodes) > 0)",message="lists postalCodes without allowing any value of it: an attribute the policy requires must also list its allowed patterns",fieldPath=".required",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="!has(self.required) || !('serialNumbers' in self.required) || (has(self.serialNumbers) && size(self.serialNumbers) > 0)",message="lists serialNumbers without allowing any value of it: an attribute the policy requires must also list its allowed patterns",fieldPath=".required",reason=FieldValueInvalid
type Allowed struct {
	// required lists the attributes a CSR must hold at least one value of, such as dnsNames. Each
	// must also list its allowed patterns here.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=13
	Required []AttributeName `json:"required,omitempty"`

	// commonName lists the patterns each subject common name (CN) must match.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:XValidation:rule=`!self.contains('$') || self.matches('^([^$]|\\$\\(requester\\.(username|serviceAccount\\.namespace|serviceAccount\\.name)\\)|\\$\\(issuer\\.namespace\\))+$')`,message="holds an unknown placeholder or a stray $: the placeholders are $(requester.username), $(requester.serviceAccount.namespace), $(requester.serviceAccount.name) and $(issuer.namespace)"
	CommonName []string `json:"commonName,omitempty"`

	// dnsNames lists the patterns each DNS name SAN must match.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:XValidation:rule=`!self.contains('$') || self.matches('^([^$]|\\$\\(requester\\.(username|serviceAccount\\.namespace|serviceAccount\\.name)\\)|\\$\\(issuer\\.namespace\\))+$')`,message="holds an unknown placeholder or a stray $: the placeholders are $(requester.username), $(requester.serviceAccount.namespace), $(requester.serviceAccount.name) and $(issuer.namespace)"
	// +kubebuilder:validation:items:XValidation:rule=`self.matches('^([-a-zA-Z0-9.*]|\\$\\([^)]*\\))+$')`,message="may hold only letters, digits, hyphens, dots, * and placeholders"
	// +kubebuilder:validation:items:XValidation:rule=`!self.contains('**')`,message="holds **, which is no wider than *: a * stands for exactly one label, so *.*.example.com allows two"
	DNSNames []string `json:"dnsNames,omitempty"`

	// ipAddresses lists the CIDRs (such as 10.0.0.0/8 or 2001:db8::/32) each IP address SAN must
	// fall within.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=43
	// +kubebuilder:validation:items:XValidation:rule="isCIDR(self)",message="must be a CIDR such as 10.0.0.0/8 or 2001:db8::/32; a single address is written 10.0.0.1/32"
	IPAddresses []string `json:"ipAddresses,omitempty"`

	// uris lists the patterns each URI SAN must match.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=512
	// +kubebuilder:validation:items:XValidation:rule=`!self.contains('$') || self.matches('^([^$]|\\$\\(requester\\.(username|serviceAccount\\.namespace|serviceAccount\\.name)\\)|\\$\\(issuer\\.namespace\\))+$')`,message="holds an unknown placeholder or a stray $: the placeholders are $(requester.username), $(requester.serviceAccount.namespace), $(requester.serviceAccount.name) and $(issuer.namespace)"
	// +kubebuilder:validation:items:XValidation:rule=`self.matches('^[a-zA-Z][-a-zA-Z0-9+.]*:.+$')`,message="must start with a scheme, such as spiffe:// or https://"
	URIs []string `json:"uris,omitempty"`

	// emailAddresses lists the patterns each email address must match, whether a SAN or an
	// emailAddress attribute of the subject.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=320
	// +kubebuilder:validation:items:XValidation:rule=`!self.contains('$') || self.matches('^([^$]|\\$\\(requester\\.(username|serviceAccount\\.namespace|serviceAccount\\.name)\\)|\\$\\(issuer\\.namespace\\))+$')`,message="holds an unknown placeholder or a stray $: the placeholders are $(requester.username), $(requester.serviceAccount.namespace), $(requester.serviceAccount.name) and $(issuer.namespace)"
	// +kubebuilder:validation:items:XValidation:rule=`self.matches('^[^@]+@[^@]+$')`,message="must be local-part@domain, with exactly one @"
	EmailAddresses []string `json:"emailAddresses,omitempty"`

	// organizations lists the patterns each subject organization must match.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:XValidation:rule=`!self.contains('$') || self.matches('^([^$]|\\$\\(requester\\.(username|serviceAccount\\.namespace|serviceAccount\\.name)\\)|\\$\\(issuer\\.namespace\\))+$')`,message="holds an unknown placeholder or a stray $: the placeholders are $(requester.username), $(requester.serviceAccount.namespace), $(requester.serviceAccount.name) and $(issuer.namespace)"
	Organizations []string `json:"organizations,omitempty"`

	// organizationalUnits lists the patterns each subject organizational unit (OU) must match.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:XValidation:rule=`!self.contains('$') || self.matches('^([^$]|\\$\\(requester\\.(username|serviceAccount\\.namespace|serviceAccount\\.name)\\)|\\$\\(issuer\\.namespace\\))+$')`,message="holds an unknown placeholder or a stray $: the placeholders are $(requester.username), $(requester.serviceAccount.namespace), $(requester.serviceAccount.name) and $(issuer.namespace)"
	OrganizationalUnits []string `json:"organizationalUnits,omitempty"`

	// countries lists the patterns each subject country (C) must match.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:XValidation:rule=`!self.contains('$') || self.matches('^([^$]|\\$\\(requester\\.(username|serviceAccount\\.namespace|serviceAccount\\.name)\\)|\\$\\(issuer\\.namespace\\))+$')`,message="holds an unknown placeholder or a stray $: the placeholders are $(requester.username), $(requester.serviceAccount.namespace), $(requester.serviceAccount.name) and $(issuer.namespace)"
	Countries []string `json:"countries,omitempty"`

	// provinces lists the patterns each subject state or province (ST) must match.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:XValidation:rule=`!self.contains('$') || self.matches('^([^$]|\\$\\(requester\\.(username|serviceAccount\\.namespace|serviceAccount\\.name)\\)|\\$\\(issuer\\.namespace\\))+$')`,message="holds an unknown placeholder or a stray $: the placeholders are $(requester.username), $(requester.serviceAccount.namespace), $(requester.serviceAccount.name) and $(issuer.namespace)"
	Provinces []string `json:"provinces,omitempty"`

	// localities lists the patterns each subject locality (L) must match.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:XValidation:rule=`!self.contains('$') || self.matches('^([^$]|\\$\\(requester\\.(username|serviceAccount\\.namespace|serviceAccount\\.name)\\)|\\$\\(issuer\\.namespace\\))+$')`,message="holds an unknown placeholder or a stray $: the placeholders are $(requester.username), $(requester.serviceAccount.namespace), $(requester.serviceAccount.name) and $(issuer.namespace)"
	Localities []string `json:"localities,omitempty"`

	// streetAddresses lists the patterns each subject street address must match.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:XValidation:rule=`!self.contains('$') || self.matches('^([^$]|\\$\\(requester\\.(username|serviceAccount\\.namespace|serviceAccount\\.name)\\)|\\$\\(issuer\\.namespace\\))+$')`,message="holds an unknown placeholder or a stray $: the placeholders are $(requester.username), $(requester.serviceAccount.namespace), $(requester.serviceAccount.name) and $(issuer.namespace)"
	StreetAddresses []string `json:"streetAddresses,omitempty"`

	// postalCodes lists the patterns each subject postal code must match.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:XValidation:rule=`!self.contains('$') || self.matches('^([^$]|\\$\\(requester\\.(username|serviceAccount\\.namespace|serviceAccount\\.name)\\)|\\$\\(issuer\\.namespace\\))+$')`,message="holds an unknown placeholder or a stray $: the placeholders are $(requester.username), $(requester.serviceAccount.namespace), $(requester.serviceAccount.name) and $(issuer.namespace)"
	PostalCodes []string `json:"postalCodes,omitempty"`

	// serialNumbers lists the patterns each subject serialNumber attribute must match: the
	// subject's, which names the holder, not the certificate's serial number.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:XValidation:rule=`!self.contains('$') || self.matches('^([^$]|\\$\\(requester\\.(username|serviceAccount\\.namespace|serviceAccount\\.name)\\)|\\$\\(issuer\\.namespace\\))+$')`,message="holds an unknown placeholder or a stray $: the placeholders are $(requester.username), $(requester.serviceAccount.namespace), $(requester.serviceAccount.name) and $(issuer.namespace)"
	SerialNumbers []string `json:"serialNumbers,omitempty"`
}

// AttributeName names a field of spec.allowed.
// +kubebuilder:validation:MaxLength=32
// +kubebuilder:validation:Enum=commonName;dnsNames;ipAddresses;uris;emailAddresses;organizations;organizationalUnits;countries;provinces;localities;streetAddresses;postalCodes;serialNumbers
type AttributeName string

// PrivateKeyPolicy lists the key algorithms a requester may use; an algorithm left out is refused.
// +kubebuilder:validation:XValidation:rule="has(self.rsa) || has(self.ecdsa) || has(self.ed25519)",message="must allow at least one of rsa, ecdsa or ed25519"
type PrivateKeyPolicy struct {
	// rsa allows RSA keys of at least minSize bits.
	// +optional
	RSA *RSAKeyPolicy `json:"rsa,omitempty"`

	// ecdsa allows ECDSA keys on curves of at least minSize bits.
	// +optional
	ECDSA *ECDSAKeyPolicy `json:"ecdsa,omitempty"`

	// ed25519 allows Ed25519 keys.
	// +optional
	Ed25519 *Ed25519KeyPolicy `json:"ed25519,omitempty"`
}

// RSAKeyPolicy allows RSA keys.
type RSAKeyPolicy struct {
	// minSize is the smallest modulus in bits.
	// +optional
	// +kubebuilder:default=2048
	// +kubebuilder:validation:Minimum=2048
	// +kubebuilder:validation:Maximum=8192
	MinSize int32 `json:"minSize,omitempty"`
}

// ECDSAKeyPolicy allows ECDSA keys.
type ECDSAKeyPolicy struct {
	// minSize is the smallest curve size in bits: 256 (P-256), 384 (P-384) or 521 (P-521).
	// +optional
	// +kubebuilder:default=256
	// +kubebuilder:validation:Enum=256;384;521
	MinSize int32 `json:"minSize,omitempty"`
}

// Ed25519KeyPolicy allows Ed25519 keys, which have one size.
type Ed25519KeyPolicy struct{}

// SignerPolicyStatus is the observed state of a SignerPolicy.
type SignerPolicyStatus struct {
	// observedGeneration is the generation of the spec this status describes. GitOps tools read a
	// policy as still in progress while it is below metadata.generation.
	// +optional
	// +kubebuilder:default=0
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// signerName is the exact spec.signerName a CSR must use to reach the issuer of spec.issuerRef;
	// empty for a policy that selects issuers.
	// +optional
	SignerName string `json:"signerName,omitempty"`

	// signerNames are the signer names the policy governs now, sorted: for spec.issuerRef its
	// issuer's one signer name, for spec.issuers those of the existing issuers it selects, updated
	// as issuers and namespaces come, go and change labels, and for spec.signerNames those names
	// and patterns.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=1024
	SignerNames []string `json:"signerNames,omitempty"`

	// conditions report whether the policy is in force. Ready is True once the issuer exists, is
	// of a type the operator signs for, and the generated RBAC is applied.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// otherPolicies are other SignerPolicies that govern the same signer, with their approval
	// modes: the Automatic ones first, then the Manual ones, each by name, at most ten. A CSR of
	// the signer is approved when any Ready Automatic policy among them all allows it, and signed
	// only as a policy that lists its requester allows it.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=10
	OtherPolicies []OtherPolicy `json:"otherPolicies,omitempty"`

	// rbac lists the Roles, RoleBindings, ClusterRoles and ClusterRoleBindings the operator
	// generated for this policy.
	// +optional
	// +listType=atomic
	RBAC []GeneratedObject `json:"rbac,omitempty"`
}

// OtherPolicy names another SignerPolicy on the same signer.
type OtherPolicy struct {
	// name is the policy's name.
	Name string `json:"name"`
	// mode is its approval mode.
	Mode ApprovalMode `json:"mode"`
}

// GeneratedObject names an object the operator generated for a policy.
type GeneratedObject struct {
	// kind is the object's kind, for example Role.
	Kind string `json:"kind"`
	// name is the object's name.
	Name string `json:"name"`
	// namespace is the object's namespace; empty for cluster-scoped objects.
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// Condition types and reasons of a SignerPolicy.
const (
	// ConditionReady is True when the policy is in force.
	ConditionReady = "Ready"

	// ReasonReady: the issuer exists, its type is supported, and the policy is in force.
	ReasonReady = "Ready"
	// ReasonIssuerNotFound: the referenced Issuer or ClusterIssuer does not exist.
	ReasonIssuerNotFound = "IssuerNotFound"
	// ReasonUnsupportedIssuerType: the issuer is of a type the operator does not sign for.
	ReasonUnsupportedIssuerType = "UnsupportedIssuerType"
	// ReasonRBACFailed: the RBAC the policy implies could not be applied.
	ReasonRBACFailed = "RBACFailed"
	// ReasonTooManyIssuers: spec.issuers selects more issuers than one policy may govern.
	ReasonTooManyIssuers = "TooManyIssuers"
	// ReasonInvalidPolicy: the policy holds something the schema cannot refuse, such as a
	// validation rule that does not compile.
	ReasonInvalidPolicy = "InvalidPolicy"

	// ConditionStalled is True while the policy cannot come into force until its spec or its
	// issuer's configuration changes (InvalidPolicy, UnsupportedIssuerType, TooManyIssuers), as
	// kstatus reads it: Flux then reports the policy Failed instead of waiting out its timeout.
	ConditionStalled = "Stalled"

	// ConditionSignerShared is True when other policies govern the same signer; status.otherPolicies
	// names them.
	ConditionSignerShared = "SignerShared"
	// ReasonAutomaticPolicyOnSigner: this policy is Manual, and an Automatic policy on the same
	// signer approves, without people, what it allows of CSRs this policy leaves to approvers.
	ReasonAutomaticPolicyOnSigner = "AutomaticPolicyOnSigner"
	// ReasonOtherPoliciesOnSigner: other policies share the signer, none of them overriding this
	// one's approval mode.
	ReasonOtherPoliciesOnSigner = "OtherPoliciesOnSigner"
	// ReasonSignerExclusive: no other policy governs the signer.
	ReasonSignerExclusive = "SignerExclusive"

	// ConditionApproversNamed is False for a Manual policy that names no approvers: only people
	// granted approval on the signer by other means can decide its CSRs.
	ConditionApproversNamed = "ApproversNamed"
	// ReasonNoApprovers: a Manual policy names no approvers.
	ReasonNoApprovers = "NoApprovers"
	// ReasonApproversNamed: a Manual policy names its approvers.
	ReasonApproversNamed = "ApproversNamed"
)

// +kubebuilder:object:root=true

// SignerPolicyList is a list of SignerPolicies.
type SignerPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the SignerPolicies.
	Items []SignerPolicy `json:"items"`
}
