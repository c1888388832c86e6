// Package controllers holds the operator's reconcilers. They stay thin: computing lives in the
// pure packages under internal/, and each reconciler only reads, calls them and writes.
package controllers

import (
	"context"
	"fmt"
	"slices"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/policy"
	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// SignerPolicyReconciler makes a SignerPolicy true: it applies the RBAC the policy implies and
// keeps its status true to its issuer (the signerName CSRs must use, and whether it is in force).
type SignerPolicyReconciler struct {
	Client client.Client
	// Events tells the policy's readers what changed: Ready turning, and each generated RBAC
	// object created, brought back to what the policy implies, or withdrawn.
	Events record.EventRecorder
	// SupportedTypes are the issuer types this operator can sign for; a policy over any other
	// type is not Ready, because CSRs it approved would never be signed.
	SupportedTypes map[signer.IssuerType]bool
	// Evaluator compiles the policy's validation rules, so a rule that does not compile keeps
	// the policy from being Ready rather than refusing every CSR once it is.
	Evaluator *policy.Evaluator
}

// +kubebuilder:rbac:groups=policy.signerpolicy.dev,resources=signerpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=policy.signerpolicy.dev,resources=signerpolicies/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=cert-manager.io,resources=issuers;clusterissuers,verbs=get;list;watch

// Reconcile brings one SignerPolicy's status up to date.
func (r *SignerPolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var policy policyv1alpha1.SignerPolicy
	err := r.Client.Get(ctx, req.NamespacedName, &policy)
	if client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, err
	}
	if err != nil || !policy.DeletionTimestamp.IsZero() {
		// The policy is gone or going: withdraw every grant it made, without events, since there
		// may be no policy left to carry them.
		_, err := r.deleteGenerated(ctx, req.Name, nil)
		return ctrl.Result{}, err
	}
	issuers, err := r.observeIssuers(ctx, &policy)
	if err != nil {
		return ctrl.Result{}, err
	}
	obs := policyObservation{issuers: issuers, invalid: r.Evaluator.Validate(&policy.Spec)}
	governed := governedRefs(issuers)
	generated, changes, rbacErr := r.applyRBAC(ctx, &policy, governed)
	for _, c := range changes {
		r.Events.Event(&policy, corev1.EventTypeNormal, c.reason, c.message)
	}

	desired := policy.DeepCopy()
	desired.Status.SignerName = ""
	if ref := policy.Spec.IssuerRef; ref != nil {
		desired.Status.SignerName = ref.SignerName()
	}
	desired.Status.SignerNames = append(signerNamesOf(governed), sortedSignerNames(&policy.Spec)...)
	desired.Status.ObservedGeneration = policy.Generation
	if rbacErr == nil {
		desired.Status.RBAC = generated
	}
	if rbacErr != nil && outOfForce(rbacErr) == nil {
		// The policy stays in force; the namespaces whose objects failed hear of it here.
		r.Events.Event(&policy, corev1.EventTypeWarning, policyv1alpha1.ReasonRBACFailed, truncate("generating RBAC: "+rbacErr.Error()))
	}
	ready := readyCondition(&policy, obs, outOfForce(rbacErr), r.SupportedTypes)
	meta.SetStatusCondition(&desired.Status.Conditions, ready)
	setStalled(&desired.Status, ready)
	warnings, err := r.observeNeighbours(ctx, &policy, &desired.Status)
	if err != nil {
		return ctrl.Result{}, err
	}
	if !equality.Semantic.DeepEqual(policy.Status, desired.Status) {
		// A merge patch of the status subresource: the spec belongs to GitOps and is never written.
		if err := r.Client.Status().Patch(ctx, desired, client.MergeFrom(&policy)); err != nil {
			return ctrl.Result{}, fmt.Errorf("updating status of SignerPolicy %q: %w", policy.Name, err)
		}
		// Only after the patch landed, so a retried reconcile does not announce a turn twice.
		if eventType, ok := readyTurned(meta.FindStatusCondition(policy.Status.Conditions, policyv1alpha1.ConditionReady), ready); ok {
			r.Events.Event(&policy, eventType, ready.Reason, ready.Message)
		}
		for _, w := range warnings {
			r.Events.Event(&policy, corev1.EventTypeWarning, w.Reason, w.Message)
		}
	}
	// Returning the RBAC error retries with backoff; the condition already tells the user why.
	return ctrl.Result{}, rbacErr
}

// observeNeighbours records in status the other policies on p's signer and what they mean for p,
// and returns the warnings that newly hold.
func (r *SignerPolicyReconciler) observeNeighbours(ctx context.Context, p *policyv1alpha1.SignerPolicy, status *policyv1alpha1.SignerPolicyStatus) ([]metav1.Condition, error) {
	onSigners, err := r.policiesOfSigners(ctx, governedSignerNames(&policyv1alpha1.SignerPolicy{Spec: p.Spec, Status: *status}))
	if err != nil {
		return nil, err
	}
	var more bool
	status.OtherPolicies, more = otherPoliciesOf(p, onSigners)
	return setInteractions(status, p.Status.Conditions, sharedCondition(p, status.OtherPolicies, more), approversCondition(p)), nil
}

// policiesOfSigners lists the policies governing any of signerNames, each once.
func (r *SignerPolicyReconciler) policiesOfSigners(ctx context.Context, signerNames []string) ([]policyv1alpha1.SignerPolicy, error) {
	var policies []policyv1alpha1.SignerPolicy
	seen := map[string]bool{}
	var keys []string
	for _, name := range signerNames {
		keys = append(keys, signerIndexKeys(name)...)
	}
	for _, name := range keys {
		var onSigner policyv1alpha1.SignerPolicyList
		if err := r.Client.List(ctx, &onSigner, client.MatchingFields{policyBySignerNameIndex: name}, readOnly); err != nil {
			return nil, fmt.Errorf("listing the SignerPolicies of signer %s: %w", name, err)
		}
		for _, o := range onSigner.Items {
			if !seen[o.Name] {
				seen[o.Name] = true
				policies = append(policies, o)
			}
		}
	}
	return policies, nil
}

// SetupWithManager registers the controller. Generated RBAC is watched so that drift is reverted
// at once; issuers are watched so that a policy becomes Ready as soon as its issuer appears, and
// stops being Ready when it goes.
func (r *SignerPolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("signerpolicy").
		For(&policyv1alpha1.SignerPolicy{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Owns(&rbacv1.Role{}).Owns(&rbacv1.RoleBinding{}).
		Owns(&rbacv1.ClusterRole{}).Owns(&rbacv1.ClusterRoleBinding{}).
		// What a policy reads of an issuer is in its spec (its type) and its existence, so a status
		// update (cert-manager's Ready condition) wakes no policy.
		Watches(&cmapi.Issuer{}, handler.EnqueueRequestsFromMapFunc(r.policiesForIssuer(policyv1alpha1.IssuerKindIssuer)),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&cmapi.ClusterIssuer{}, handler.EnqueueRequestsFromMapFunc(r.policiesForIssuer(policyv1alpha1.IssuerKindClusterIssuer)),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.policiesWithSelectors),
			builder.WithPredicates(predicate.LabelChangedPredicate{})).
		// A policy arriving on a signer, leaving it or changing its mode changes what the other
		// policies on that signer report; an update maps both the old and the new signer. Other
		// edits change nothing the neighbours show, and a signer may have a thousand policies.
		Watches(&policyv1alpha1.SignerPolicy{}, handler.EnqueueRequestsFromMapFunc(r.neighboursOf),
			builder.WithPredicates(predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
				old, updated := e.ObjectOld.(*policyv1alpha1.SignerPolicy), e.ObjectNew.(*policyv1alpha1.SignerPolicy)
				return modeOf(old) != modeOf(updated) || !slices.Equal(governedSignerNames(old), governedSignerNames(updated))
			}})).
		WithOptions(queueOptions(1)).
		Complete(r)
}

func (r *SignerPolicyReconciler) neighboursOf(ctx context.Context, obj client.Object) []reconcile.Request {
	p := obj.(*policyv1alpha1.SignerPolicy)
	onSigners, err := r.policiesOfSigners(ctx, governedSignerNames(p))
	if err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing the SignerPolicies beside one", "policy", p.Name)
		return nil
	}
	changed := policyv1alpha1.OtherPolicy{Name: p.Name, Mode: modeOf(p)}
	return requestsWhere(onSigners, func(q *policyv1alpha1.SignerPolicy) bool {
		return q.Name != p.Name && mayShow(q, changed, len(onSigners))
	})
}

// policiesForIssuer requests the policies an issuer event may concern: those governing its signer
// now, and every policy selecting issuers of its kind, which may come to govern it.
func (r *SignerPolicyReconciler) policiesForIssuer(kind policyv1alpha1.IssuerKind) handler.MapFunc {
	return func(ctx context.Context, obj client.Object) []reconcile.Request {
		ref := policyv1alpha1.IssuerReference{Kind: kind, Namespace: obj.GetNamespace(), Name: obj.GetName()}
		return append(r.policiesOfSigner(ctx, ref.SignerName()), r.policiesWhere(ctx, func(p *policyv1alpha1.SignerPolicy) bool {
			return p.Spec.Issuers != nil && p.Spec.Issuers.Kind == kind
		})...)
	}
}

// policiesOfSigner requests every policy governing signerName.
func (r *SignerPolicyReconciler) policiesOfSigner(ctx context.Context, signerName string) []reconcile.Request {
	var list policyv1alpha1.SignerPolicyList
	if err := r.Client.List(ctx, &list, client.MatchingFields{policyBySignerNameIndex: signerName}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing SignerPolicies", "signer", signerName)
		return nil
	}
	return requestsWhere(list.Items, nil)
}
