package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/policy"
	"github.com/signerpolicy/signer-policy-operator/internal/rbac"
	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// NamespacedSignerPolicyReconciler makes a tenant's policy true within its delegation: it finds
// the Ready SignerPolicies that delegate its Issuers to its namespace, applies the RBAC it implies
// only while one of them permits it, and reports which delegations cover it and with what bounds.
type NamespacedSignerPolicyReconciler struct {
	Client client.Client
	Events record.EventRecorder
	// SupportedTypes and Evaluator are as for SignerPolicyReconciler.
	SupportedTypes map[signer.IssuerType]bool
	Evaluator      *policy.Evaluator
}

// +kubebuilder:rbac:groups=policy.signerpolicy.dev,resources=namespacedsignerpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=policy.signerpolicy.dev,resources=namespacedsignerpolicies/status,verbs=get;update;patch

// Reconcile brings one NamespacedSignerPolicy's RBAC and status up to date.
func (r *NamespacedSignerPolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	writer := &SignerPolicyReconciler{Client: r.Client}
	key := req.Namespace + "/" + req.Name
	var p policyv1alpha1.NamespacedSignerPolicy
	err := r.Client.Get(ctx, req.NamespacedName, &p)
	if client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, err
	}
	if err != nil || !p.DeletionTimestamp.IsZero() {
		_, err := writer.deleteGenerated(ctx, key, nil)
		return ctrl.Result{}, err
	}
	spec := policy.EffectiveSpec(&p)
	effective := &policyv1alpha1.SignerPolicy{ObjectMeta: metav1.ObjectMeta{Name: key, Generation: p.Generation}, Spec: spec}
	issuers, err := writer.observeIssuers(ctx, effective)
	if err != nil {
		return ctrl.Result{}, err
	}
	cover, err := r.delegationsOf(ctx, &p, &spec)
	if err != nil {
		return ctrl.Result{}, err
	}

	// RBAC only for the Issuers a permitting delegation covers, and only while the policy is
	// valid: a policy out of force grants nothing.
	var covered []policyv1alpha1.IssuerReference
	for _, ref := range governedRefs(issuers) {
		if cover.permits(ref) {
			covered = append(covered, ref)
		}
	}
	invalid := r.Evaluator.Validate(&spec)
	var desired []rbac.Object
	if len(invalid) == 0 && len(covered) > 0 {
		desired = rbac.ForNamespacedPolicy(&p, &spec, covered, cover.permitting)
	}
	generated, changes, rbacErr := writer.applyObjects(ctx, key, desired)
	for _, c := range changes {
		r.Events.Event(&p, corev1.EventTypeNormal, c.reason, c.message)
	}

	desiredStatus := p.Status.DeepCopy()
	desiredStatus.ObservedGeneration = p.Generation
	desiredStatus.SignerNames = signerNamesOf(covered)
	desiredStatus.Delegations = delegationStatuses(&spec, cover.permitting)
	if rbacErr == nil {
		desiredStatus.RBAC = generated
	}
	ready := r.readyCondition(&p, effective, policyObservation{issuers: issuers, invalid: invalid}, cover, rbacErr)
	meta.SetStatusCondition(&desiredStatus.Conditions, ready)
	if !equality.Semantic.DeepEqual(&p.Status, desiredStatus) {
		patched := p.DeepCopy()
		patched.Status = *desiredStatus
		if err := r.Client.Status().Patch(ctx, patched, client.MergeFrom(&p)); err != nil {
			// A policy deleted meanwhile is reconciled again by its delete event.
			return ctrl.Result{}, client.IgnoreNotFound(fmt.Errorf("updating status of NamespacedSignerPolicy %s: %w", key, err))
		}
		if eventType, ok := readyTurned(meta.FindStatusCondition(p.Status.Conditions, policyv1alpha1.ConditionReady), ready); ok {
			r.Events.Event(&p, eventType, ready.Reason, ready.Message)
		}
	}
	return ctrl.Result{}, rbacErr
}

// coverage is what the SignerPolicies say of one namespaced policy.
type coverage struct {
	// covering are the delegating policies last found Ready that delegate one of its Issuers.
	covering []*policyv1alpha1.SignerPolicy
	// permitting are those of covering that permit everything it names.
	permitting []*policyv1alpha1.SignerPolicy
	// beyond is what it names that covering policies do not permit.
	beyond field.ErrorList
	// issuerLabels are the labels of the policy's namespace, which delegations select by.
	issuerLabels map[string]string
}

// permits reports whether a permitting delegation delegates the Issuer ref.
func (c *coverage) permits(ref policyv1alpha1.IssuerReference) bool {
	return slices.ContainsFunc(c.permitting, func(d *policyv1alpha1.SignerPolicy) bool {
		return policy.Delegates(d, ref, c.issuerLabels)
	})
}

// delegationsOf finds the Ready SignerPolicies delegating any Issuer the namespaced policy may
// govern: its issuerRef, or any Issuer its name patterns could select in its namespace (a
// delegation's own name patterns are compared Issuer by Issuer when RBAC is rendered).
func (r *NamespacedSignerPolicyReconciler) delegationsOf(ctx context.Context, p *policyv1alpha1.NamespacedSignerPolicy,
	spec *policyv1alpha1.SignerPolicySpec) (coverage, error) {
	var c coverage
	var ns corev1.Namespace
	if err := r.Client.Get(ctx, client.ObjectKey{Name: p.Namespace}, &ns); client.IgnoreNotFound(err) != nil {
		return c, fmt.Errorf("reading namespace %s: %w", p.Namespace, err)
	}
	if ns.Name == "" || ns.DeletionTimestamp != nil {
		return c, nil // a namespace on its way out is delegated nothing
	}
	c.issuerLabels = ns.Labels
	if c.issuerLabels == nil {
		c.issuerLabels = map[string]string{}
	}
	// Every SignerPolicy, since delegations are few and reconciles of namespaced policies rare.
	var list policyv1alpha1.SignerPolicyList
	if err := r.Client.List(ctx, &list, readOnly); err != nil {
		return c, fmt.Errorf("listing SignerPolicies: %w", err)
	}
	candidates := list.Items
	slices.SortFunc(candidates, func(a, b policyv1alpha1.SignerPolicy) int { return strings.Compare(a.Name, b.Name) })
	for i := range candidates {
		d := &candidates[i]
		if !wasReady(d) || d.Spec.Delegation == nil || !mayDelegate(d, p, spec, c.issuerLabels) {
			continue
		}
		c.covering = append(c.covering, d)
		if errs := policy.BeyondDelegation(d, p); len(errs) > 0 {
			c.beyond = append(c.beyond, errs...)
			continue
		}
		c.permitting = append(c.permitting, d)
	}
	return c, nil
}

// wasReady reports whether the operator last found d in force, for this generation or, while it
// looks at an edit, the one before. A delegation being re-evaluated keeps its tenants' RBAC, so
// that their CSRs in flight are not failed for want of it in the meantime; the evaluator decides
// no CSR under it until it is Ready again, so nothing is approved or signed on the old bounds.
func wasReady(d *policyv1alpha1.SignerPolicy) bool {
	c := meta.FindStatusCondition(d.Status.Conditions, policyv1alpha1.ConditionReady)
	return c != nil && c.Status == metav1.ConditionTrue
}

// mayDelegate reports whether d delegates an Issuer p's spec could govern: for an issuerRef that
// Issuer; for name patterns, any Issuer of p's namespace, since which exist changes.
func mayDelegate(d *policyv1alpha1.SignerPolicy, p *policyv1alpha1.NamespacedSignerPolicy, spec *policyv1alpha1.SignerPolicySpec, labels map[string]string) bool {
	if spec.IssuerRef != nil {
		return policy.Delegates(d, *spec.IssuerRef, labels)
	}
	if d.Spec.IssuerRef != nil {
		return d.Spec.IssuerRef.Kind == policyv1alpha1.IssuerKindIssuer && d.Spec.IssuerRef.Namespace == p.Namespace &&
			policy.Governs(spec, *d.Spec.IssuerRef, nil)
	}
	if d.Spec.Issuers == nil {
		return false
	}
	// A selection of Issuers by name: whether it delegates this namespace at all is what
	// matters here; each Issuer is checked when RBAC is rendered and when a CSR is decided.
	probe := *d.Spec.Issuers
	probe.Names = []string{"*"}
	return policy.Governs(&policyv1alpha1.SignerPolicySpec{Issuers: &probe}, policyv1alpha1.IssuerReference{
		Kind: policyv1alpha1.IssuerKindIssuer, Namespace: p.Namespace, Name: "any"}, labels)
}

// readyCondition is Ready for a namespaced policy: out of force without a permitting delegation,
// then as a SignerPolicy's.
func (r *NamespacedSignerPolicyReconciler) readyCondition(p *policyv1alpha1.NamespacedSignerPolicy, effective *policyv1alpha1.SignerPolicy,
	obs policyObservation, cover coverage, rbacErr error) metav1.Condition {
	c := metav1.Condition{Type: policyv1alpha1.ConditionReady, ObservedGeneration: p.Generation, Status: metav1.ConditionFalse}
	switch {
	case len(cover.covering) == 0:
		c.Reason = policyv1alpha1.ReasonNotDelegated
		c.Message = fmt.Sprintf("no Ready SignerPolicy delegates %s to namespaced policies of namespace %s: ask the platform team for a SignerPolicy with spec.delegation governing it",
			describeGoverned(&effective.Spec), p.Namespace)
	case len(cover.permitting) == 0:
		c.Reason = policyv1alpha1.ReasonBeyondDelegation
		c.Message = truncate("the policy names what no delegation covering it permits: " + cover.beyond.ToAggregate().Error())
	default:
		c = readyCondition(effective, obs, rbacErr, r.SupportedTypes)
		if c.Status == metav1.ConditionTrue {
			c.Message = truncate(fmt.Sprintf("in force under SignerPolicy %s: CSRs of %s are governed by this policy within the delegation's bounds (status.delegations)",
				quoteNames(cover.permitting), strings.Join(signerNamesOf(governedRefs(obs.issuers)), ", ")))
		}
	}
	return c
}

func describeGoverned(spec *policyv1alpha1.SignerPolicySpec) string {
	if spec.IssuerRef != nil {
		return spec.IssuerRef.String()
	}
	return fmt.Sprintf("the Issuers matching %s", strings.Join(spec.Issuers.Names, ", "))
}

func quoteNames(policies []*policyv1alpha1.SignerPolicy) string {
	names := make([]string, len(policies))
	for i, p := range policies {
		names[i] = fmt.Sprintf("%q", p.Name)
	}
	return strings.Join(names, ", ")
}

// delegationStatuses reports, for each permitting delegation, the bounds that hold under it.
func delegationStatuses(spec *policyv1alpha1.SignerPolicySpec, delegations []*policyv1alpha1.SignerPolicy) []policyv1alpha1.DelegationStatus {
	out := make([]policyv1alpha1.DelegationStatus, 0, len(delegations))
	for _, d := range delegations {
		out = append(out, policyv1alpha1.DelegationStatus{
			Policy:      d.Name,
			MaxDuration: shorterMax(spec.Duration, d.Spec.Duration),
			AllowCA:     spec.AllowCA && d.Spec.AllowCA,
			Usages:      policy.CommonUsages(spec, &d.Spec),
		})
	}
	if len(out) > 16 {
		out = out[:16]
	}
	return out
}

func shorterMax(a, b *policyv1alpha1.DurationBounds) *metav1.Duration {
	var out *metav1.Duration
	for _, bounds := range []*policyv1alpha1.DurationBounds{a, b} {
		if bounds != nil && bounds.Max != nil && (out == nil || bounds.Max.Duration < out.Duration) {
			out = bounds.Max.DeepCopy()
		}
	}
	return out
}

// SetupWithManager registers the controller. Delegations, Issuers and namespaces decide whether a
// namespaced policy is in force, so each of their changes wakes the policies it may concern.
func (r *NamespacedSignerPolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("namespacedsignerpolicy").
		For(&policyv1alpha1.NamespacedSignerPolicy{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Owns(&rbacv1.Role{}).Owns(&rbacv1.RoleBinding{}).
		// Cluster-scoped objects cannot be owned by a namespaced policy; their annotation names it,
		// which also finds the objects of a policy deleted while the operator was down.
		Watches(&rbacv1.ClusterRole{}, handler.EnqueueRequestsFromMapFunc(namespacedPolicyOfObject)).
		Watches(&rbacv1.ClusterRoleBinding{}, handler.EnqueueRequestsFromMapFunc(namespacedPolicyOfObject)).
		Watches(&policyv1alpha1.SignerPolicy{}, handler.EnqueueRequestsFromMapFunc(r.delegatedPolicies)).
		Watches(&cmapi.Issuer{}, handler.EnqueueRequestsFromMapFunc(r.policiesInNamespaceOf),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.policiesInNamespace),
			builder.WithPredicates(predicate.LabelChangedPredicate{})).
		WithOptions(queueOptions(1)).
		Complete(r)
}

func namespacedPolicyOfObject(_ context.Context, obj client.Object) []reconcile.Request {
	ns, name, ok := strings.Cut(obj.GetAnnotations()[rbac.NamespacedPolicyAnnotation], "/")
	if !ok || obj.GetLabels()[rbac.ManagedByLabel] != rbac.ManagedByValue {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}}}
}

// delegatedPolicies requests every namespaced policy when a policy with a delegation changes (an
// update maps the old and the new policy, so losing a delegation counts): delegations are few,
// and which namespaces one selects depends on labels this handler would otherwise have to read.
func (r *NamespacedSignerPolicyReconciler) delegatedPolicies(ctx context.Context, obj client.Object) []reconcile.Request {
	if obj.(*policyv1alpha1.SignerPolicy).Spec.Delegation == nil {
		return nil
	}
	return r.policiesWhere(ctx)
}

func (r *NamespacedSignerPolicyReconciler) policiesInNamespaceOf(ctx context.Context, obj client.Object) []reconcile.Request {
	return r.policiesWhere(ctx, client.InNamespace(obj.GetNamespace()))
}

func (r *NamespacedSignerPolicyReconciler) policiesInNamespace(ctx context.Context, obj client.Object) []reconcile.Request {
	return r.policiesWhere(ctx, client.InNamespace(obj.GetName()))
}

func (r *NamespacedSignerPolicyReconciler) policiesWhere(ctx context.Context, opts ...client.ListOption) []reconcile.Request {
	var list policyv1alpha1.NamespacedSignerPolicyList
	if err := r.Client.List(ctx, &list, append(opts, readOnly)...); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing NamespacedSignerPolicies")
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, p := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: p.Namespace, Name: p.Name}})
	}
	return reqs
}
