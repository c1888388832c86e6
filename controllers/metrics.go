package controllers

import (
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the operator's own Prometheus metrics, beside controller-runtime's.
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

// NewMetrics registers the metrics with reg. Registering again in the same process (a test
// restarting the manager) reuses the collectors already registered.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{pendingReasons: map[string]string{}}
	var err error
	if m.decisions, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "signerpolicy_csr_decisions_total",
		Help: "Approval decisions on CSRs, by deciding SignerPolicy ('none' when none decided) and result (approve, deny, manual, wait, notgoverned).",
	}, []string{"policy", "result"})); err != nil {
		return nil, err
	}
	if m.signing, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "signerpolicy_csr_signing_total",
		Help: "Signing outcomes, by issuer type and result (issued, failed, pending, error).",
	}, []string{"issuer_type", "result"})); err != nil {
		return nil, err
	}
	if m.latency, err = register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "signerpolicy_csr_issuance_seconds",
		Help:    "Time from a CSR's creation to its certificate, by issuer type.",
		Buckets: prometheus.ExponentialBuckets(0.05, 2, 14), // 50ms to about 7 minutes
	}, []string{"issuer_type"})); err != nil {
		return nil, err
	}
	if m.pending, err = register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "signerpolicy_csr_pending",
		Help: "CSRs the signing controller is waiting on, by the reason they wait (WaitingApproval, IssuerNotFound, SecretMissing, ...).",
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

func (m *Metrics) decided(policy, result string) {
	if m != nil {
		m.decisions.WithLabelValues(policy, result).Inc()
	}
}

func (m *Metrics) signed(issuerType, result string) {
	if m != nil {
		m.signing.WithLabelValues(issuerType, result).Inc()
	}
}

func (m *Metrics) issued(issuerType string, created time.Time, now time.Time) {
	if m != nil {
		m.latency.WithLabelValues(issuerType).Observe(now.Sub(created).Seconds())
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
