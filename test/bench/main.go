// Command bench measures signer-policy-operator on a local control plane: it runs kube-apiserver
// and etcd, starts the operator binary as its own process, submits CSRs from several requester
// users at once, and reports throughput, latency, API requests per CSR, CPU and memory, beside
// the ceiling of a trivial client doing only the approve and status writes. It reports figures
// and never passes or fails on them. Run it with `make bench` (BENCH_FLAGS for options).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

// config is one benchmark run.
type config struct {
	N           int    `json:"n"`
	Concurrency int    `json:"concurrency"`
	Requesters  int    `json:"requesters"`
	Key         string `json:"key"`
	Policies    int    `json:"policies"`
	Issuer      string `json:"issuer"`
	Scale       int    `json:"scaleCSRs,omitempty"`
}

// result is what a run reports; the JSON is meant for comparing runs.
type result struct {
	Config         config  `json:"config"`
	CertsPerSecond float64 `json:"certificatesPerSecond"`
	// Milliseconds from creation to certificate.
	P50               float64 `json:"p50Millis"`
	P90               float64 `json:"p90Millis"`
	P99               float64 `json:"p99Millis"`
	Max               float64 `json:"maxMillis"`
	RequestsPerCSR    float64 `json:"apiRequestsPerCSR"`
	CPUSeconds        float64 `json:"operatorCPUSeconds"`
	PeakRSSMiB        float64 `json:"operatorPeakRSSMiB"`
	CeilingPerSecond  float64 `json:"ceilingCertificatesPerSecond"`
	FractionOfCeiling float64 `json:"fractionOfCeiling"`
	ScaleSteadyRSSMiB float64 `json:"scaleSteadyRSSMiB,omitempty"`
	ScaleNewCSRMillis float64 `json:"scaleNewCSRMillis,omitempty"`
	ScaleNewCSRCPUMs  float64 `json:"scaleNewCSRCPUMillis,omitempty"`
	ScaleNewCSRCalls  float64 `json:"scaleNewCSRAPIRequests,omitempty"`
}

func main() {
	var c config
	manager := flag.String("manager", "bin/manager", "Operator binary to run.")
	jsonPath := flag.String("json", "", "Also write the result's JSON to this file.")
	flag.IntVar(&c.N, "n", 1000, "CSRs to issue.")
	flag.IntVar(&c.Concurrency, "concurrency", 16, "CSRs created at once.")
	flag.IntVar(&c.Requesters, "requesters", 4, "Requester users the CSRs come from.")
	flag.StringVar(&c.Key, "key", "ecdsa", "Key type of the CSRs: ecdsa (P-256) or rsa (2048).")
	flag.IntVar(&c.Policies, "policies", 1, "SignerPolicies on the signer; all but one refuse the requesters, and the allowing one sorts last.")
	flag.StringVar(&c.Issuer, "issuer", "ca", "Issuer type: ca or selfsigned.")
	flag.IntVar(&c.Scale, "scale", 0, "If set, also create this many CSRs of another signer, then report steady memory and the latency of one new CSR.")
	flag.Parse()
	r, err := run(c, *manager)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	printTable(os.Stdout, r)
	data, err := json.Marshal(r)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	// The same figures as one JSON line, for scripts that compare runs.
	fmt.Printf("\n%s\n", data)
	if *jsonPath != "" {
		if err := os.WriteFile(*jsonPath, append(data, '\n'), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
}

func run(c config, managerPath string) (result, error) {
	ctx := context.Background()
	root, err := harness.ModuleRoot()
	if err != nil {
		return result{}, err
	}
	env, err := harness.Start()
	if err != nil {
		return result{}, err
	}
	defer func() { _ = env.Stop() }()
	dir, err := os.MkdirTemp("", "signer-policy-bench-")
	if err != nil {
		return result{}, err
	}
	fix, err := prepare(ctx, env, c)
	if err != nil {
		return result{}, err
	}
	op, err := startOperator(ctx, env, filepath.Join(root, managerPath), dir)
	if err != nil {
		return result{}, err
	}
	defer op.stop()
	if err := fix.waitForPolicies(ctx, env, c.Policies); err != nil {
		return result{}, err
	}

	r := result{Config: c}
	before, err := op.sample()
	if err != nil {
		return result{}, err
	}
	start := time.Now()
	latencies, err := issue(ctx, env, fix, c, "load")
	if err != nil {
		return result{}, err
	}
	elapsed := time.Since(start)
	after, err := op.sample()
	if err != nil {
		return result{}, err
	}
	r.CertsPerSecond = float64(c.N) / elapsed.Seconds()
	r.P50, r.P90, r.P99, r.Max = percentiles(latencies)
	r.RequestsPerCSR = (after.requests - before.requests) / float64(c.N)
	r.CPUSeconds = after.cpu - before.cpu
	r.PeakRSSMiB = after.peakRSS

	ceiling, err := measureCeiling(ctx, env, fix, c)
	if err != nil {
		return result{}, err
	}
	r.CeilingPerSecond = ceiling
	r.FractionOfCeiling = r.CertsPerSecond / ceiling
	if c.Scale > 0 {
		sr, err := measureScale(ctx, env, fix, c, op)
		if err != nil {
			return result{}, err
		}
		r.ScaleSteadyRSSMiB, r.ScaleNewCSRMillis, r.ScaleNewCSRCPUMs, r.ScaleNewCSRCalls = sr.steadyMiB, sr.newCSRMillis, sr.cpuMillis, sr.requests
	}
	return r, nil
}
