package main

import (
	"context"
	"fmt"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

// workload is one way CSRs reach the operator, measured beside a ceiling client that does the
// same API writes with no policy or signing work.
type workload struct {
	name        string
	title       string
	latencyFrom string
	// mode of the allowing policy: Automatic when the operator approves, Manual when the
	// creators do (the operator must not race them to it).
	mode            policyv1alpha1.ApprovalMode
	creatorApproves bool
	// backlog: every CSR is created and approved before the operator starts.
	backlog bool
}

var workloads = []workload{
	{name: "policy", title: "policy-approved: creators create; the operator approves and signs",
		latencyFrom: "creation", mode: policyv1alpha1.ApprovalAutomatic},
	{name: "creator", title: "creator-approved: creators create and approve; the operator signs",
		latencyFrom: "approval", mode: policyv1alpha1.ApprovalManual, creatorApproves: true},
	{name: "backlog", title: "backlog drain: CSRs already approved when the operator starts",
		latencyFrom: "operator start", mode: policyv1alpha1.ApprovalManual, creatorApproves: true, backlog: true},
}

// workloadResult is what a workload reports.
type workloadResult struct {
	Workload          string  `json:"workload"`
	CertsPerSecond    float64 `json:"certificatesPerSecond"`
	CeilingPerSecond  float64 `json:"ceilingCertificatesPerSecond"`
	FractionOfCeiling float64 `json:"fractionOfCeiling"`
	Latency           latency `json:"latency"`
	CeilingLatency    latency `json:"ceilingLatency"`
	// FirstCertificateMillis is, for a backlog, the operator's start to its first certificate;
	// the drain rate leaves it out.
	FirstCertificateMillis float64 `json:"firstCertificateMillis,omitempty"`
	// RequestsPerCert is from the operator's client metrics, RequestsByKind from the API
	// server's audit log of the operator's user; both per certificate.
	RequestsPerCert   float64            `json:"apiRequestsPerCertificate"`
	RequestsByKind    map[string]float64 `json:"apiRequestsPerCertificateByVerbAndResource"`
	CPUSecondsPer1000 float64            `json:"operatorCPUSecondsPer1000Certificates"`
	PeakRSSMiB        float64            `json:"operatorPeakRSSMiB"`
}

// bench is one run's control plane, fixture and settings.
type bench struct {
	cl      *cluster
	f       *fixture
	c       config
	manager string
	dir     string
}

// usage is what the operator process did during a workload.
type usage struct {
	requests float64
	byKind   map[string]int
	cpu      float64
	peakRSS  float64
}

// measure runs a workload with a fresh operator process (so its peak RSS is the workload's),
// then its ceiling with the operator stopped, then deletes the CSRs so the next workload starts
// from an empty cluster.
func (b *bench) measure(ctx context.Context, w workload) (workloadResult, error) {
	if err := setApprovalMode(ctx, b.cl, w.mode); err != nil {
		return workloadResult{}, err
	}
	run := b.streamOperator
	if w.backlog {
		run = b.drainOperator
	}
	t, u, err := run(ctx, w)
	if err != nil {
		return workloadResult{}, fmt.Errorf("%s workload: %w", w.name, err)
	}
	ceiling, err := b.ceiling(ctx, w)
	if err != nil {
		return workloadResult{}, fmt.Errorf("%s ceiling: %w", w.name, err)
	}
	if err := b.cl.admin.DeleteAllOf(ctx, &certificatesv1.CertificateSigningRequest{}); err != nil {
		return workloadResult{}, err
	}
	n := float64(b.c.N)
	r := workloadResult{
		Workload: w.name, Latency: percentiles(t.latencies), CeilingLatency: percentiles(ceiling.latencies),
		RequestsPerCert: u.requests / n, RequestsByKind: map[string]float64{},
		CPUSecondsPer1000: u.cpu * 1000 / n, PeakRSSMiB: u.peakRSS,
	}
	for kind, count := range u.byKind {
		r.RequestsByKind[kind] = float64(count) / n
	}
	r.CertsPerSecond, r.CeilingPerSecond = t.streamRate(), ceiling.streamRate()
	if w.backlog {
		r.CertsPerSecond, r.CeilingPerSecond = t.drainRate(), ceiling.drainRate()
		r.FirstCertificateMillis = float64(t.first.Sub(t.start).Microseconds()) / 1000
	}
	r.FractionOfCeiling = r.CertsPerSecond / r.CeilingPerSecond
	return r, nil
}

// streamOperator starts the operator, waits for the policies to be in force, and streams the
// CSRs at it.
func (b *bench) streamOperator(ctx context.Context, w workload) (timing, usage, error) {
	op, err := b.startOperator(ctx, w.name)
	if err != nil {
		return timing{}, usage{}, err
	}
	defer op.stop()
	if err := waitForPolicies(ctx, b.cl, b.c.Policies); err != nil {
		return timing{}, usage{}, err
	}
	before, err := op.sample()
	if err != nil {
		return timing{}, usage{}, err
	}
	from := time.Now()
	t, err := stream(ctx, b.cl, b.f, b.c, submission{run: w.name, signerName: b.f.signerName, creatorApproves: w.creatorApproves})
	if err != nil {
		return timing{}, usage{}, err
	}
	u, err := b.finish(op, from, before)
	return t, u, err
}

// drainOperator makes the backlog while no operator runs, then starts one and times the
// drain. Its usage counts from the process's start, so it includes the start-up.
func (b *bench) drainOperator(ctx context.Context, w workload) (timing, usage, error) {
	if _, err := submitBacklog(ctx, b.f, b.c, w.name, b.f.signerName); err != nil {
		return timing{}, usage{}, err
	}
	var op *operator
	from := time.Now()
	t, err := drain(ctx, b.cl, w.name, b.c.N, func() (err error) {
		op, err = b.startOperator(ctx, w.name)
		return err
	})
	if op != nil {
		defer op.stop()
	}
	if err != nil {
		return timing{}, usage{}, err
	}
	u, err := b.finish(op, from, sample{})
	return t, u, err
}

// ceiling runs the workload's ceiling on a signer the operator ignores, with the operator
// stopped: the same creators, and in place of the operator's controllers pools of as many
// workers doing only its writes (approve, then the certificate) with its rights, with no
// policy or signing work.
func (b *bench) ceiling(ctx context.Context, w workload) (timing, error) {
	s := submission{run: w.name + "-ceiling", signerName: ceilingSigner, creatorApproves: w.creatorApproves}
	write := func(csr *certificatesv1.CertificateSigningRequest) error { return b.f.writeCertificate(ctx, csr) }
	if w.backlog {
		csrs, err := submitBacklog(ctx, b.f, b.c, s.run, s.signerName)
		if err != nil {
			return timing{}, err
		}
		return drain(ctx, b.cl, s.run, b.c.N, func() error {
			return forEach(len(csrs), b.c.Concurrency, func(i int) error { return write(csrs[i]) })
		})
	}
	if w.creatorApproves {
		return stream(ctx, b.cl, b.f, b.c, s, write)
	}
	approveAsOperator := func(csr *certificatesv1.CertificateSigningRequest) error { return approve(ctx, b.f.writer, csr) }
	return stream(ctx, b.cl, b.f, b.c, s, approveAsOperator, write)
}

func (b *bench) startOperator(ctx context.Context, name string) (*operator, error) {
	return startOperator(ctx, b.f, b.manager, b.dir, name, b.c.OperatorArgs)
}

// finish waits for the operator to go quiet, samples it, stops it and counts its requests in
// the API server's audit log since from.
func (b *bench) finish(op *operator, from time.Time, before sample) (usage, error) {
	if err := op.settle(); err != nil {
		return usage{}, err
	}
	after, err := op.sample()
	if err != nil {
		return usage{}, err
	}
	to := time.Now()
	op.stop()
	// The API server logs a watch when it ends; give it a moment to log the ones the stop ended.
	time.Sleep(time.Second)
	byKind, err := operatorRequests(b.cl.auditLog, from, to)
	if err != nil {
		return usage{}, err
	}
	return usage{requests: after.requests - before.requests, byKind: byKind, cpu: after.cpu - before.cpu, peakRSS: after.peakRSS}, nil
}
