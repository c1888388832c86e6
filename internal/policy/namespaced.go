package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	csrutil "github.com/signerpolicy/signer-policy-operator/internal/csr"
)

// Policies are what a CSR is decided against.
type Policies struct {
	// Cluster are the SignerPolicies; those governing the CSR's signer count.
	Cluster []v1alpha1.SignerPolicy
	// Namespaced are NamespacedSignerPolicies; those of the namespace of the Issuer the CSR names
	// that govern it count, and only while a Ready SignerPolicy among Cluster delegates that
	// Issuer to them.
	Namespaced []v1alpha1.NamespacedSignerPolicy
}

// NamespacedName is how decisions, messages, metrics and records name a namespaced policy:
// namespace/name, which no SignerPolicy can be called, since a name holds no '/'.
func NamespacedName(p *v1alpha1.NamespacedSignerPolicy) string {
	return p.Namespace + "/" + p.Name
}

// IsNamespacedName says whether a policy name from a Decision is a NamespacedSignerPolicy's.
func IsNamespacedName(name string) bool {
	return strings.Contains(name, "/")
}

// Describe names a policy of a Decision for people: SignerPolicy "x" or
// NamespacedSignerPolicy "ns/x".
func Describe(name string) string {
	if IsNamespacedName(name) {
		return fmt.Sprintf("NamespacedSignerPolicy %q", name)
	}
	return fmt.Sprintf("SignerPolicy %q", name)
}

// EffectiveSpec is a namespaced policy as the SignerPolicySpec the evaluator and the RBAC
// renderer read: its issuers are Issuers of its own namespace, and nothing else of it widens.
func EffectiveSpec(p *v1alpha1.NamespacedSignerPolicy) v1alpha1.SignerPolicySpec {
	spec := v1alpha1.SignerPolicySpec{
		Requesters: p.Spec.Requesters,
		Approval:   p.Spec.Approval,
		Duration:   p.Spec.Duration,
		AllowCA:    p.Spec.AllowCA,
		Usages:     p.Spec.Usages,
		Allowed:    p.Spec.Allowed,
		PrivateKey: p.Spec.PrivateKey,
		// A selector is forbidden by the schema; dropping it here keeps one stored past the schema
		// from reaching other namespaces.
		Validations: p.Spec.Validations,
	}
	spec.Requesters.ServiceAccountSelectors = nil
	switch {
	case p.Spec.IssuerRef != nil:
		spec.IssuerRef = &v1alpha1.IssuerReference{Kind: v1alpha1.IssuerKindIssuer, Namespace: p.Namespace, Name: p.Spec.IssuerRef.Name}
	case p.Spec.Issuers != nil:
		spec.Issuers = &v1alpha1.IssuerSelector{Kind: v1alpha1.IssuerKindIssuer, Names: p.Spec.Issuers.Names, Namespaces: []string{p.Namespace}}
	}
	return spec
}

// Delegates reports whether d, a SignerPolicy, delegates the Issuer ref to namespaced policies of
// its namespace: d has a delegation and governs ref. It does not look at d's readiness.
func Delegates(d *v1alpha1.SignerPolicy, ref v1alpha1.IssuerReference, issuerNamespaceLabels map[string]string) bool {
	return d.Spec.Delegation != nil && ref.Kind == v1alpha1.IssuerKindIssuer && Governs(&d.Spec, ref, issuerNamespaceLabels)
}

// BeyondDelegation lists what p names that delegating policy d does not permit: an approval mode
// outside d's approvalModes, users or groups d does not let tenants name, system: identities,
// service accounts of another namespace. Empty when d permits all of it. The schema refuses much
// of this already; checking again here keeps a policy stored past it out of force.
func BeyondDelegation(d *v1alpha1.SignerPolicy, p *v1alpha1.NamespacedSignerPolicy) field.ErrorList {
	var errs field.ErrorList
	del := d.Spec.Delegation
	if del == nil {
		return field.ErrorList{field.Forbidden(field.NewPath("spec"), fmt.Sprintf("SignerPolicy %q delegates nothing", d.Name))}
	}
	mode := p.Spec.Approval.Mode
	if mode == "" {
		mode = v1alpha1.ApprovalAutomatic
	}
	modes := del.ApprovalModes
	if len(modes) == 0 {
		modes = []v1alpha1.ApprovalMode{v1alpha1.ApprovalAutomatic, v1alpha1.ApprovalManual}
	}
	if !slices.Contains(modes, mode) {
		errs = append(errs, field.NotSupported(field.NewPath("spec", "approval", "mode"), mode, approvalModeStrings(modes)))
	}
	errs = append(errs, beyondSubjects(del, d.Name, p.Namespace, field.NewPath("spec", "requesters"), &p.Spec.Requesters)...)
	if a := p.Spec.Approval.Approvers; a != nil {
		path := field.NewPath("spec", "approval", "approvers")
		errs = append(errs, beyondSubjects(del, d.Name, p.Namespace, path, a)...)
		errs = append(errs, selfApproval(path, a, &p.Spec.Requesters)...)
	}
	return errs
}

// selfApproval refuses approvers who are requesters too: a workload approving its own CSRs makes
// a Manual policy Automatic, which a delegation permitting only Manual must not allow.
func selfApproval(path *field.Path, approvers, requesters *v1alpha1.Subjects) field.ErrorList {
	errs := alsoRequesters(path.Child("users"), approvers.Users, requesters.Users)
	errs = append(errs, alsoRequesters(path.Child("groups"), approvers.Groups, requesters.Groups)...)
	return append(errs, alsoRequesters(path.Child("serviceAccounts"), approvers.ServiceAccounts, requesters.ServiceAccounts)...)
}

func alsoRequesters[T comparable](path *field.Path, approvers, requesters []T) field.ErrorList {
	var errs field.ErrorList
	for i, a := range approvers {
		if slices.Contains(requesters, a) {
			errs = append(errs, field.Forbidden(path.Index(i), "is a requester too: requesters may not approve their own CSRs"))
		}
	}
	return errs
}

func beyondSubjects(del *v1alpha1.Delegation, delegator, namespace string, path *field.Path, s *v1alpha1.Subjects) field.ErrorList {
	errs := undelegated(path.Child("users"), s.Users, "users", del.Users, delegator)
	errs = append(errs, undelegated(path.Child("groups"), s.Groups, "groups", del.Groups, delegator)...)
	for i, sa := range s.ServiceAccounts {
		if sa.Namespace != namespace {
			errs = append(errs, field.Forbidden(path.Child("serviceAccounts").Index(i).Child("namespace"),
				fmt.Sprintf("names service account %s of another namespace: a namespaced policy names only service accounts of %s", serviceaccount.MakeUsername(sa.Namespace, sa.Name), namespace)))
		}
	}
	if len(s.ServiceAccountSelectors) > 0 {
		errs = append(errs, field.Forbidden(path.Child("serviceAccountSelectors"), "a namespaced policy may not select service accounts"))
	}
	return errs
}

// undelegated refuses the users or groups (kind) a namespaced policy names: system: ones always,
// any when the delegation does not permit the kind.
func undelegated(path *field.Path, names []string, kind string, permitted bool, delegator string) field.ErrorList {
	var errs field.ErrorList
	for i, n := range names {
		switch {
		case strings.HasPrefix(n, "system:"):
			errs = append(errs, field.Forbidden(path.Index(i), "a namespaced policy may not name system: "+kind))
		case !permitted:
			errs = append(errs, field.Forbidden(path.Index(i),
				fmt.Sprintf("SignerPolicy %q does not let namespaced policies name %s (spec.delegation.%s)", delegator, kind, kind)))
		}
	}
	return errs
}

func approvalModeStrings(modes []v1alpha1.ApprovalMode) []string {
	out := make([]string, len(modes))
	for i, m := range modes {
		out[i] = string(m)
	}
	return out
}

// namespacedReadiness is whether a namespaced policy is Ready for its current generation, and
// whether the operator has said so either way. Only the operator writes the status: tenants hold
// no right to it.
func namespacedReadiness(p *v1alpha1.NamespacedSignerPolicy) (ready, lookedAt bool) {
	c := meta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionReady)
	if c == nil || c.ObservedGeneration != p.Generation {
		return false, false
	}
	return c.Status == metav1.ConditionTrue, true
}

// candidate is one policy a CSR is decided against: a SignerPolicy, or a namespaced policy in
// force, bounded by the delegating policies that cover it.
type candidate struct {
	name  string
	spec  *v1alpha1.SignerPolicySpec
	ready bool
	// bounds are the Ready delegating policies covering a namespaced policy; a CSR must be
	// allowed by the namespaced policy and by one of them. Nil for a SignerPolicy.
	bounds []*v1alpha1.SignerPolicy
	// beyond is what a namespaced policy names that no covering delegation permits: it then
	// refuses every CSR with these errors.
	beyond field.ErrorList
}

// namespacedCandidates are the namespaced policies governing req's Issuer that a delegation
// among governing (the SignerPolicies governing it) puts in force, sorted by name. A namespaced
// policy no Ready delegation covers is not in force and counts for nothing: its status says why.
func namespacedCandidates(namespaced []v1alpha1.NamespacedSignerPolicy, governing []*v1alpha1.SignerPolicy, req *Request) []candidate {
	if len(namespaced) == 0 {
		return nil
	}
	ref, ok := issuerOf(req.SignerName)
	if !ok || ref.Kind != v1alpha1.IssuerKindIssuer {
		return nil
	}
	var delegations []*v1alpha1.SignerPolicy
	for _, d := range governing {
		if isReady(d) && Delegates(d, ref, req.IssuerNamespaceLabels) {
			delegations = append(delegations, d)
		}
	}
	if len(delegations) == 0 {
		return nil
	}
	var out []candidate
	for i := range namespaced {
		p := &namespaced[i]
		if p.Namespace != ref.Namespace {
			continue
		}
		spec := EffectiveSpec(p)
		if !Governs(&spec, ref, nil) {
			continue
		}
		ready, lookedAt := namespacedReadiness(p)
		c := candidate{name: NamespacedName(p), spec: &spec, ready: ready}
		var beyond field.ErrorList
		for _, d := range delegations {
			if errs := BeyondDelegation(d, p); len(errs) > 0 {
				beyond = append(beyond, errs...)
				continue
			}
			c.bounds = append(c.bounds, d)
		}
		switch {
		case len(c.bounds) == 0:
			c.beyond = beyond
		case lookedAt && !ready:
			// The operator found this generation out of force (invalid, its Issuer missing): it
			// holds off no decision, as a policy not looked at yet would.
			continue
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b candidate) int { return strings.Compare(a.name, b.name) })
	return out
}

// checkWithin checks a request namespaced policy spec allows against the bounds of delegating
// policy d, and returns the lifetime d lets it have. Errors name d and its field, so a tenant
// reads which of the platform's bounds refused them.
//
// The lifetime is what spec grants; where nobody chose it (the CSR requests none and spec sets no
// default) it is d's default, within spec's max; at signing it is clamped to d's max, as a lone
// policy's max clamps an approval.
func (ev *evaluation) checkWithin(d *v1alpha1.SignerPolicy, spec *v1alpha1.SignerPolicySpec) (field.ErrorList, time.Duration) {
	lifetime := ev.lifetime(spec)
	bounds := d.Spec.Duration
	if ev.req.Duration == 0 && (spec.Duration == nil || spec.Duration.Default == nil) {
		// Nobody chose a lifetime: the delegation's default, within the namespaced policy's max.
		lifetime = defaultLifetime(bounds)
		if spec.Duration != nil && spec.Duration.Max != nil && lifetime > spec.Duration.Max.Duration {
			lifetime = spec.Duration.Max.Duration
		}
	}
	if ev.signing && bounds != nil && bounds.Max != nil && lifetime > bounds.Max.Duration {
		lifetime = bounds.Max.Duration
	}
	source := "requested"
	if ev.req.Duration == 0 {
		source = "default"
	}
	// The delegation's rules see the lifetime the namespaced policy grants, not one of their own.
	ev.granted = lifetime
	defer func() { ev.granted = 0 }()
	errs := append(checkLifetime(bounds, lifetime, source), ev.checkContents(&d.Spec)...)
	for _, e := range errs {
		e.Field = fmt.Sprintf("SignerPolicy %q %s", d.Name, e.Field)
	}
	return errs, lifetime
}

// issuerOf is the issuer a signer name names, if it is a cert-manager one.
func issuerOf(signerName string) (v1alpha1.IssuerReference, bool) {
	ref, err := csrutil.ParseSignerName(signerName)
	return ref, err == nil
}

// Named returns the policy a Decision names, a namespaced one seen as the SignerPolicy it is
// evaluated as (named namespace/name, its status's conditions and RBAC kept), or nil.
func (ps Policies) Named(name string) *v1alpha1.SignerPolicy {
	if !IsNamespacedName(name) {
		for i := range ps.Cluster {
			if ps.Cluster[i].Name == name {
				return &ps.Cluster[i]
			}
		}
		return nil
	}
	for i := range ps.Namespaced {
		p := &ps.Namespaced[i]
		if NamespacedName(p) == name {
			return &v1alpha1.SignerPolicy{
				ObjectMeta: metav1.ObjectMeta{Name: name, UID: p.UID, Generation: p.Generation},
				Spec:       EffectiveSpec(p),
				Status:     v1alpha1.SignerPolicyStatus{ObservedGeneration: p.Status.ObservedGeneration, Conditions: p.Status.Conditions, RBAC: p.Status.RBAC},
			}
		}
	}
	return nil
}

// GoverningNamespaced returns, sorted by name, the namespaced policies of ps that a Ready
// delegation puts in force for req's signer (those the evaluator decides with), for tools that
// show each policy's verdict.
func GoverningNamespaced(ps Policies, req Request) []v1alpha1.NamespacedSignerPolicy {
	var out []v1alpha1.NamespacedSignerPolicy
	for _, c := range namespacedCandidates(ps.Namespaced, governingPolicies(ps.Cluster, &req), &req) {
		for _, p := range ps.Namespaced {
			if NamespacedName(&p) == c.name {
				out = append(out, p)
			}
		}
	}
	return out
}
