package controllers

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/csr"
)

// scrapeTimeout bounds how long a collector reads the cache during a scrape; the cache answers
// from memory once synced, so only a manager still starting makes it wait.
const scrapeTimeout = 5 * time.Second

// registerCollectors adds the gauges computed from the cache at each scrape, each in the process
// whose controller watches what it counts, so a split install reports each once.
func registerCollectors(opts Options, mgr ctrl.Manager) error {
	if opts.runs(ControllerPolicy) {
		if err := replace(opts.Metrics, newPolicyCollector(mgr.GetCache(), mgr.GetLogger().WithName("metrics"))); err != nil {
			return err
		}
	}
	if opts.runs(ControllerSigning) {
		return replace(opts.Metrics, newUnsignedCollector(mgr.GetCache(), clock.RealClock{}, mgr.GetLogger().WithName("metrics")))
	}
	return nil
}

// policyCollector reports the SignerPolicies in force, computed from the cache at each scrape, so
// the gauge is what the cluster holds now rather than a tally of changes that could drift.
type policyCollector struct {
	cache    client.Reader
	log      logr.Logger
	policies *prometheus.Desc
}

func newPolicyCollector(cache client.Reader, log logr.Logger) *policyCollector {
	return &policyCollector{cache: cache, log: log, policies: prometheus.NewDesc("signerpolicy_policies",
		"SignerPolicies, by Ready status (True: in force for its current spec; False; Unknown: not yet or not since its last edit evaluated) and approval mode (Automatic, Manual).",
		[]string{"ready", "approval"}, nil)}
}

func (pc *policyCollector) Describe(ch chan<- *prometheus.Desc) { ch <- pc.policies }

func (pc *policyCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	var list policyv1alpha1.SignerPolicyList
	if err := pc.cache.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		pc.log.Error(err, "listing SignerPolicies for signerpolicy_policies")
		return // absent rather than wrong; an invalid metric would fail the whole scrape
	}
	type key struct{ ready, approval string }
	counts := map[key]float64{}
	// Every combination is reported, zero included, so that alerts and dashboards see a series.
	for _, r := range []string{string(metav1.ConditionTrue), string(metav1.ConditionFalse), string(metav1.ConditionUnknown)} {
		for _, a := range []policyv1alpha1.ApprovalMode{policyv1alpha1.ApprovalAutomatic, policyv1alpha1.ApprovalManual} {
			counts[key{r, string(a)}] = 0
		}
	}
	for i := range list.Items {
		p := &list.Items[i]
		counts[key{readyStatus(p), approvalMode(p)}]++
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(pc.policies, prometheus.GaugeValue, n, k.ready, k.approval)
	}
}

// readyStatus is the policy's Ready status, Unknown when the condition describes an older spec, as
// the evaluator, which treats such a policy as not Ready, sees it.
func readyStatus(p *policyv1alpha1.SignerPolicy) string {
	c := meta.FindStatusCondition(p.Status.Conditions, policyv1alpha1.ConditionReady)
	if c == nil || c.ObservedGeneration != p.Generation {
		return string(metav1.ConditionUnknown)
	}
	return string(c.Status)
}

// approvalMode is Automatic or Manual; like the evaluator, it treats a mode it does not know as
// Manual.
func approvalMode(p *policyv1alpha1.SignerPolicy) string {
	if p.Spec.Approval.Mode == "" || p.Spec.Approval.Mode == policyv1alpha1.ApprovalAutomatic {
		return string(policyv1alpha1.ApprovalAutomatic)
	}
	return string(policyv1alpha1.ApprovalManual)
}

// unsignedCollector reports approved CSRs addressed to cert-manager issuers that are neither
// issued, failed nor denied, and how long the oldest has waited since its approval: a CSR stuck
// there is what a requester waits on.
type unsignedCollector struct {
	cache         client.Reader
	clock         clock.PassiveClock
	log           logr.Logger
	unsigned, age *prometheus.Desc
}

func newUnsignedCollector(cache client.Reader, clk clock.PassiveClock, log logr.Logger) *unsignedCollector {
	return &unsignedCollector{cache: cache, clock: clk, log: log,
		unsigned: prometheus.NewDesc("signerpolicy_csr_approved_unsigned",
			"Approved CSRs for cert-manager issuers that are not yet issued, failed or denied, by issuer kind.", []string{"issuer_kind"}, nil),
		age: prometheus.NewDesc("signerpolicy_csr_approved_unsigned_oldest_seconds",
			"Seconds since the oldest approved, not yet issued, failed or denied CSR for a cert-manager issuer was approved, by issuer kind (0 when there is none).",
			[]string{"issuer_kind"}, nil)}
}

func (uc *unsignedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- uc.unsigned; ch <- uc.age }

func (uc *unsignedCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	var list certificatesv1.CertificateSigningRequestList
	if err := uc.cache.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		uc.log.Error(err, "listing CSRs for signerpolicy_csr_approved_unsigned")
		return // absent rather than wrong; an invalid metric would fail the whole scrape
	}
	now := uc.clock.Now()
	kinds := []string{string(policyv1alpha1.IssuerKindIssuer), string(policyv1alpha1.IssuerKindClusterIssuer)}
	count, oldest := map[string]float64{}, map[string]float64{}
	for i := range list.Items {
		c := &list.Items[i]
		if !needsSigning(c) {
			continue
		}
		kind := issuerKindOf(c)
		if kind == labelNone {
			continue
		}
		count[kind]++
		approved := c.CreationTimestamp.Time
		if cond := csr.Condition(c, certificatesv1.CertificateApproved); cond != nil && !cond.LastUpdateTime.IsZero() {
			approved = cond.LastUpdateTime.Time
		}
		oldest[kind] = max(oldest[kind], now.Sub(approved).Seconds())
	}
	for _, k := range kinds {
		ch <- prometheus.MustNewConstMetric(uc.unsigned, prometheus.GaugeValue, count[k], k)
		ch <- prometheus.MustNewConstMetric(uc.age, prometheus.GaugeValue, oldest[k], k)
	}
}
