package controllers

import (
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	certificatesv1 "k8s.io/api/certificates/v1"

	"github.com/signerpolicy/signer-policy-operator/internal/csr"
	"github.com/signerpolicy/signer-policy-operator/internal/policy"
)

// Metrics are the operator's own Prometheus metrics, beside controller-runtime's; the collectors
// in metrics_collectors.go and EventBroadcaster's dropped-events counter complete them. docs/metrics.md
// lists each with its labels, and a test holds the two to each other.
//
// Every label is bounded: issuer kind and type, results and reasons are sets fixed in the code,
// and policy names are as many as there are SignerPolicies. Signer and issuer names are left out
// on purpose: a cluster with a namespace per tenant has as many of them as it has namespaces,
// and the governance records name them for every CSR.
type Metrics struct {
	decisions *prometheus.CounterVec
	signing   *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	pending   *prometheus.GaugeVec

	mu sync.Mutex
	// pendingReasons is each waiting CSR's current reason, so the gauge counts CSRs rather
	// than events.
	pendingReasons map[string]string
}

// Label values of the operator's metrics that are not names of Kubernetes objects.
const (
	// labelNone is the policy label of a decision no policy names the requester in, and the
	// issuer_kind label of a signer that is not a cert-manager issuer.
	labelNone = "none"
	// labelUnknown is the issuer_type of a CSR that failed before its issuer's type was read.
	labelUnknown = "unknown"
)

// NewMetrics registers the metrics with reg. Registering again in the same process (a test
// restarting the manager) reuses the collectors already registered.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{pendingReasons: map[string]string{}}
	var err error
	if m.decisions, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "signerpolicy_csr_decisions_total",
		Help: "Evaluations of pending CSRs by the approval controller, by result (approve, deny: written to the CSR; manual, wait, notgoverned: left pending), " +
			"the SignerPolicy the decision is about (the allowing one, else the first that names the requester, else 'none') and the kind of issuer the CSR asks.",
	}, []string{"policy", "result", "issuer_kind"})); err != nil {
		return nil, err
	}
	if m.signing, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "signerpolicy_csr_signing_total",
		Help: "Outcomes of signing approved CSRs, by issuer kind and type, result (issued, failed, pending, error) and reason " +
			"(the Failed condition's or the pending signer's reason; CertificateIssued; SigningRetry).",
	}, []string{"issuer_kind", "issuer_type", "result", "reason"})); err != nil {
		return nil, err
	}
	if m.latency, err = register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "signerpolicy_csr_issuance_duration_seconds",
		Help:    "Seconds from a CSR's creation to its certificate being written, by issuer kind and type.",
		Buckets: prometheus.ExponentialBuckets(0.05, 2, 14), // 50ms to about 7 minutes
	}, []string{"issuer_kind", "issuer_type"})); err != nil {
		return nil, err
	}
	if m.pending, err = register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "signerpolicy_csr_pending",
		Help: "CSRs the signing controller last left waiting, each counted once under the reason it waits for now (WaitingApproval, IssuerNotFound, NoSignerPolicy, a pending signer's reason, ...).",
	}, []string{"reason"})); err != nil {
		return nil, err
	}
	return m, nil
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}

// replace registers c in place of a collector with the same metrics: a collector that reads a
// manager's cache must read the running manager's, not a stopped one's.
func replace(reg prometheus.Registerer, c prometheus.Collector) error {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		reg.Unregister(are.ExistingCollector)
		err = reg.Register(c)
	}
	return err
}

// decided counts one decision on c.
func (m *Metrics) decided(c *certificatesv1.CertificateSigningRequest, d policy.Decision) {
	if m != nil {
		m.decisions.WithLabelValues(orNone(d.Responsible()), decisionResult(d.Result), issuerKindOf(c)).Inc()
	}
}

// signed counts one signing outcome of c; g may be nil, or have no type yet when the CSR failed
// before its issuer was read.
func (m *Metrics) signed(c *certificatesv1.CertificateSigningRequest, g *grant, result, reason string) {
	if m != nil {
		m.signing.WithLabelValues(issuerKindOf(c), issuerTypeOf(g), result, reason).Inc()
	}
}

func (m *Metrics) issued(c *certificatesv1.CertificateSigningRequest, g *grant, now time.Time) {
	if m != nil {
		m.latency.WithLabelValues(issuerKindOf(c), issuerTypeOf(g)).Observe(now.Sub(c.CreationTimestamp.Time).Seconds())
	}
}

// waiting records that the CSR waits for reason; an empty reason means it no longer waits.
func (m *Metrics) waiting(csr, reason string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.pendingReasons[csr]; ok {
		if old == reason {
			return
		}
		m.pending.WithLabelValues(old).Dec()
		delete(m.pendingReasons, csr)
	}
	if reason != "" {
		m.pendingReasons[csr] = reason
		m.pending.WithLabelValues(reason).Inc()
	}
}

// decisionResult is the result label: approve, deny, manual, wait or notgoverned.
func decisionResult(r policy.Result) string {
	switch r {
	case policy.Approve:
		return "approve"
	case policy.Deny:
		return "deny"
	case policy.Manual:
		return "manual"
	case policy.Wait:
		return "wait"
	}
	return "notgoverned"
}

// issuerKindOf is the issuer_kind label: Issuer or ClusterIssuer, or none for a signer that is
// not a cert-manager issuer.
func issuerKindOf(c *certificatesv1.CertificateSigningRequest) string {
	ref, err := csr.ParseSignerName(c.Spec.SignerName)
	if err != nil {
		return labelNone
	}
	return string(ref.Kind)
}

func issuerTypeOf(g *grant) string {
	if g == nil || g.typ == "" {
		return labelUnknown
	}
	return string(g.typ)
}
