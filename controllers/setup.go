package controllers

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	authenticationv1 "k8s.io/api/authentication/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/approvers"
	"github.com/signerpolicy/signer-policy-operator/internal/audit"
	"github.com/signerpolicy/signer-policy-operator/internal/csr"
	"github.com/signerpolicy/signer-policy-operator/internal/policy"
	"github.com/signerpolicy/signer-policy-operator/internal/rbac"
	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// Options configure the operator's controllers. main.go and the test harness build the manager
// through the same Setup so that tests run exactly the wiring that ships.
type Options struct {
	// Signers builds the signer for each issuer type. Signers read Secrets through
	// mgr.GetAPIReader(), which goes straight to the API server (a CA's keypair through a
	// signer.SecretCache, which keeps only what it read while the watch sees it unchanged);
	// a signer that serves something (an ACME HTTP-01 listener) adds itself to mgr. A policy for
	// an issuer type without a signer is not Ready.
	Signers func(mgr ctrl.Manager) (*signer.Registry, error)
	// ClusterResourceNamespace is where ClusterIssuers' Secrets live.
	ClusterResourceNamespace string
	// Concurrency is how many CSRs each CSR controller works on at once.
	Concurrency int
	// AuditLog receives the governance records; the manager's logger when unset.
	AuditLog *logr.Logger
	// Controllers selects which controllers run, from Policy, Approval and Signing; empty runs
	// them all. Splitting lets the power to approve and the power to sign live in different
	// Deployments with different service accounts.
	Controllers []string
	// Metrics receives the operator's Prometheus metrics; none are kept when nil.
	Metrics prometheus.Registerer
	// Approvers, when set, serves the observing admission webhook on the manager's webhook server
	// (with the approval controller) and keeps what it saw, for the approver in governance
	// records; without it, approvers of conditions the operator did not write are unknown.
	Approvers *approvers.Observations
	// ReferenceReviewTTL is how long the signing controller reuses an allowed reference check
	// (the SubjectAccessReview for a namespaced Issuer) for the same requester identity and
	// Issuer, unless a watch sees RBAC change first: zero means DefaultReferenceReviewTTL, and a
	// negative value asks for every CSR.
	ReferenceReviewTTL time.Duration
}

// The controllers Options.Controllers can select.
const (
	ControllerPolicy   = "policy"
	ControllerApproval = "approval"
	ControllerSigning  = "signing"
)

func (o Options) runs(name string) bool {
	return len(o.Controllers) == 0 || slices.Contains(o.Controllers, name)
}

func (o Options) validate() error {
	for _, c := range o.Controllers {
		if c != ControllerPolicy && c != ControllerApproval && c != ControllerSigning {
			return fmt.Errorf("unknown controller %q: choose from %s, %s and %s", c, ControllerPolicy, ControllerApproval, ControllerSigning)
		}
	}
	return nil
}

// Setup registers the field indexes and the selected controllers with the manager.
func Setup(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	if err := opts.validate(); err != nil {
		return err
	}
	if err := registerIndexes(ctx, mgr.GetFieldIndexer(), opts.ClusterResourceNamespace); err != nil {
		return fmt.Errorf("registering field indexes: %w", err)
	}
	var metrics *Metrics
	if opts.Metrics != nil {
		var err error
		if metrics, err = NewMetrics(opts.Metrics); err != nil {
			return fmt.Errorf("registering metrics: %w", err)
		}
		if err := registerCollectors(opts, mgr); err != nil {
			return fmt.Errorf("registering metrics: %w", err)
		}
	}
	auditLog := mgr.GetLogger()
	if opts.AuditLog != nil {
		auditLog = *opts.AuditLog
	}
	concurrency := max(opts.Concurrency, 1)
	// The service accounts of kube-system and of the cluster resource namespace (the operator's
	// own by default) are the platform's controllers.
	records := audit.New(auditLog, metav1.NamespaceSystem, opts.ClusterResourceNamespace)
	// One evaluator, so each validation rule is compiled once for all three controllers.
	evaluator, err := policy.NewEvaluator()
	if err != nil {
		return err
	}
	// The signers decide which issuer types a policy can be Ready for, so they are built even
	// when only the policy controller runs.
	signers, err := opts.Signers(mgr)
	if err != nil {
		return fmt.Errorf("building signers: %w", err)
	}
	if opts.runs(ControllerPolicy) {
		supported := map[signer.IssuerType]bool{}
		for _, t := range signers.Types() {
			supported[t] = true
		}
		policies := &SignerPolicyReconciler{Client: mgr.GetClient(), SupportedTypes: supported, Evaluator: evaluator,
			Events: mgr.GetEventRecorderFor("signer-policy-controller"), //nolint:staticcheck // the core/v1 recorder, as ApprovalReconciler.Events explains
		}
		if err := policies.SetupWithManager(mgr); err != nil {
			return fmt.Errorf("setting up the SignerPolicy controller: %w", err)
		}
		namespaced := &NamespacedSignerPolicyReconciler{Client: mgr.GetClient(), SupportedTypes: supported, Evaluator: evaluator,
			Events: mgr.GetEventRecorderFor("signer-policy-controller"), //nolint:staticcheck // see ApprovalReconciler.Events
		}
		if err := namespaced.SetupWithManager(mgr); err != nil {
			return fmt.Errorf("setting up the NamespacedSignerPolicy controller: %w", err)
		}
	}
	ledger := newRecordLedger()
	// Each CSR's request is read by approval, signing and records: parsed and verified once,
	// for the CSRs in flight (a few KiB each).
	requests := csr.NewRequests(1024)
	if opts.runs(ControllerApproval) && opts.Approvers != nil {
		mgr.GetWebhookServer().Register(approvers.Path, (&approvers.Webhook{Observations: opts.Approvers}).Handler())
	}
	if opts.runs(ControllerApproval) {
		approval := &ApprovalReconciler{
			Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Audit: records, Clock: clock.RealClock{}, Metrics: metrics,
			Evaluator: evaluator, Ledger: ledger, Self: self(ctx, mgr), Requests: requests,
			Events: mgr.GetEventRecorderFor("signer-policy-approver"), //nolint:staticcheck // see ApprovalReconciler.Events
		}
		if err := approval.SetupWithManager(mgr, concurrency); err != nil {
			return fmt.Errorf("setting up the CSR approval controller: %w", err)
		}
	}
	if opts.runs(ControllerSigning) {
		var references *referenceReviews
		if ttl := cmp.Or(opts.ReferenceReviewTTL, DefaultReferenceReviewTTL); ttl > 0 {
			if references, err = watchRBACFor(ctx, mgr, ttl); err != nil {
				return err
			}
		}
		signing := &SigningReconciler{
			Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Audit: records, Clock: clock.RealClock{}, Metrics: metrics,
			Events:  mgr.GetEventRecorderFor("signer-policy-signer"), //nolint:staticcheck // see SigningReconciler.Events
			Signers: signers, Evaluator: evaluator, ClusterResourceNamespace: opts.ClusterResourceNamespace,
			Ledger: ledger, Approvers: opts.Approvers, Requests: requests, References: references,
		}
		if err := signing.SetupWithManager(mgr, concurrency); err != nil {
			return fmt.Errorf("setting up the CSR signing controller: %w", err)
		}
	}
	recorder := &RecordsReconciler{Client: mgr.GetClient(), Audit: records, Ledger: ledger, Evaluator: evaluator, Approvers: opts.Approvers, Requests: requests}
	if opts.runs(ControllerApproval) {
		recorder.Events = append(recorder.Events, approvalEvents...)
	}
	if opts.runs(ControllerSigning) {
		recorder.Events = append(recorder.Events, signingEvents...)
	}
	if len(recorder.Events) > 0 {
		if err := recorder.SetupWithManager(mgr); err != nil {
			return fmt.Errorf("setting up the governance records controller: %w", err)
		}
	}
	return nil
}

// self asks the API server who the operator is, so that its own decisions name their approver.
// Every authenticated user may ask (the default system:basic-user ClusterRole), so the operator's
// own role need not grant it; a server that cannot say leaves the identity out of the records.
func self(ctx context.Context, mgr ctrl.Manager) *audit.Identity {
	review := &authenticationv1.SelfSubjectReview{}
	if err := mgr.GetClient().Create(ctx, review); err != nil {
		mgr.GetLogger().Info("cannot tell the operator's own identity for governance records", "error", err.Error())
		return nil
	}
	id := approvers.IdentityOf(review.Status.UserInfo)
	return &id
}

// NewScheme knows the built-in kinds, cert-manager's issuers and our SignerPolicy.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, cmapi.AddToScheme, policyv1alpha1.AddToScheme} {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("building scheme: %w", err)
		}
	}
	return s, nil
}

// CacheOptions limit what the manager caches of kinds the operator only generates: the
// operator never reads other RBAC objects, and caching every Role in a large cluster would cost
// memory for nothing.
func CacheOptions() cache.Options {
	managed := cache.ByObject{Label: labels.SelectorFromSet(labels.Set{rbac.ManagedByLabel: rbac.ManagedByValue})}
	return cache.Options{ByObject: map[client.Object]cache.ByObject{
		&rbacv1.Role{}: managed, &rbacv1.RoleBinding{}: managed,
		&rbacv1.ClusterRole{}: managed, &rbacv1.ClusterRoleBinding{}: managed,
	}}
}

// NewCacheStoppedBy builds the manager's cache so that the manager can stop even when its caches
// never sync (the operator lacks list or watch on something it watches). controller-runtime
// v0.24.1's manager waits for its caches to report synced before it reaches its stop procedure,
// and once its context is cancelled that wait spins on a CPU until the process is killed
// (kubernetes-sigs/controller-runtime#3440). Once stopping is closed, the cache reports synced,
// which is harmless then: the manager is stopping and reconciles nothing.
func NewCacheStoppedBy(stopping <-chan struct{}) cache.NewCacheFunc {
	return func(cfg *rest.Config, opts cache.Options) (cache.Cache, error) {
		c, err := cache.New(cfg, opts)
		if err != nil {
			return nil, err
		}
		return &stoppableSync{Cache: c, stopping: stopping}, nil
	}
}

type stoppableSync struct {
	cache.Cache
	stopping <-chan struct{}
}

func (c *stoppableSync) WaitForCacheSync(ctx context.Context) bool {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-c.stopping:
			cancel()
		case <-ctx.Done():
		}
	}()
	if c.Cache.WaitForCacheSync(ctx) {
		return true
	}
	select {
	case <-c.stopping:
		return true
	default:
		return false
	}
}
