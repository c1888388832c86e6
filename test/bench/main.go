// Command bench measures signer-policy-operator on a local control plane: it runs kube-apiserver
// and etcd, starts the operator binary as its own process, and measures three workloads, each
// beside a ceiling client that does the same API writes with no policy or signing work:
// creators who only create (the operator approves and signs), creators who also approve (the
// operator signs), and a backlog of approved CSRs drained when the operator starts. For each it
// reports throughput and its fraction of the ceiling, latency, the operator's API requests per
// certificate by verb and resource, CPU and memory. It reports figures and never passes or fails
// on them. Run it with `make bench` (BENCH_FLAGS for options).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

// config is one benchmark run.
type config struct {
	N           int      `json:"n"`
	Concurrency int      `json:"concurrency"`
	Requesters  int      `json:"requesters"`
	Key         string   `json:"key"`
	Policies    int      `json:"policies"`
	Issuer      string   `json:"issuer"`
	Namespaced  bool     `json:"namespaced"`
	Workloads   []string `json:"workloads"`
	Scale       int      `json:"scaleCSRs,omitempty"`
	// OperatorArgs go to the operator after the bench's own flags, so they win.
	OperatorArgs []string `json:"operatorArgs,omitempty"`
}

// result is what a run reports; the JSON is meant for comparing runs.
type result struct {
	Config            config           `json:"config"`
	Workloads         []workloadResult `json:"workloads"`
	ScaleSteadyRSSMiB float64          `json:"scaleSteadyRSSMiB,omitempty"`
	ScaleNewCSRMillis float64          `json:"scaleNewCSRMillis,omitempty"`
	ScaleNewCSRCPUMs  float64          `json:"scaleNewCSRCPUMillis,omitempty"`
	ScaleNewCSRCalls  float64          `json:"scaleNewCSRAPIRequests,omitempty"`
}

func main() {
	var c config
	manager := flag.String("manager", "bin/manager", "Operator binary to run.")
	jsonPath := flag.String("json", "", "Also write the result's JSON to this file.")
	names := flag.String("workloads", "policy,creator,backlog",
		"Workloads to measure, in order: policy (creators create; the operator approves and signs), creator (creators create and approve; the operator signs), backlog (approved CSRs drained when the operator starts).")
	flag.IntVar(&c.N, "n", 1000, "CSRs to issue in each workload.")
	flag.IntVar(&c.Concurrency, "concurrency", 16,
		"CSRs created at once, and the workers of each of the ceiling's stand-ins for the operator's controllers (whose --concurrency defaults to 16).")
	flag.IntVar(&c.Requesters, "requesters", 4, "Requester users the CSRs come from.")
	flag.StringVar(&c.Key, "key", "ecdsa", "Key type of the CSRs: ecdsa (P-256) or rsa (2048).")
	flag.IntVar(&c.Policies, "policies", 1, "SignerPolicies on the signer; all but one refuse the requesters, and the allowing one sorts last.")
	flag.StringVar(&c.Issuer, "issuer", "ca", "Issuer type: ca or selfsigned.")
	flag.BoolVar(&c.Namespaced, "namespaced", false, "Sign with a namespaced Issuer rather than a ClusterIssuer, so every CSR costs a SubjectAccessReview.")
	flag.IntVar(&c.Scale, "scale", 0, "If set, also create this many CSRs of another signer, then report steady memory and the latency of one new CSR.")
	operatorArgs := flag.String("operator-args", "", "Extra operator flags, space-separated, such as \"--concurrency=4\" or \"--controllers=policy,signing\".")
	flag.Parse()
	c.Workloads = strings.Split(*names, ",")
	c.OperatorArgs = strings.Fields(*operatorArgs)
	if err := runAndReport(c, *manager, *jsonPath); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func runAndReport(c config, manager, jsonPath string) error {
	r, err := run(c, manager)
	if err != nil {
		return err
	}
	printTables(os.Stdout, r)
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	// The same figures as one JSON line, for scripts that compare runs.
	fmt.Printf("\n%s\n", data)
	if jsonPath != "" {
		return os.WriteFile(jsonPath, append(data, '\n'), 0o644)
	}
	return nil
}

func run(c config, managerPath string) (result, error) {
	ctx := context.Background()
	chosen, err := chooseWorkloads(c.Workloads)
	if err != nil {
		return result{}, err
	}
	root, err := harness.ModuleRoot()
	if err != nil {
		return result{}, err
	}
	dir, err := os.MkdirTemp("", "signer-policy-bench-")
	if err != nil {
		return result{}, err
	}
	cl, err := startCluster(root, dir)
	if err != nil {
		return result{}, err
	}
	defer func() { _ = cl.stop() }()
	f, err := prepare(ctx, cl, c)
	if err != nil {
		return result{}, err
	}
	if !filepath.IsAbs(managerPath) {
		managerPath = filepath.Join(root, managerPath)
	}
	b := &bench{cl: cl, f: f, c: c, manager: managerPath, dir: dir}
	// The backlog is approved before any operator of the run has started: the approver's rights
	// come from the policies, so an operator applies them first.
	if err := b.applyPolicies(ctx); err != nil {
		return result{}, err
	}
	r := result{Config: c}
	for _, w := range chosen {
		wr, err := b.measure(ctx, w)
		if err != nil {
			return result{}, err
		}
		r.Workloads = append(r.Workloads, wr)
	}
	if c.Scale > 0 {
		sr, err := b.measureScale(ctx)
		if err != nil {
			return result{}, err
		}
		r.ScaleSteadyRSSMiB, r.ScaleNewCSRMillis, r.ScaleNewCSRCPUMs, r.ScaleNewCSRCalls = sr.steadyMiB, sr.newCSRMillis, sr.cpuMillis, sr.requests
	}
	return r, nil
}

func chooseWorkloads(names []string) ([]workload, error) {
	var chosen []workload
	for _, name := range names {
		i := slices.IndexFunc(workloads, func(w workload) bool { return w.name == name })
		if i < 0 {
			return nil, fmt.Errorf("unknown workload %q: policy, creator or backlog", name)
		}
		chosen = append(chosen, workloads[i])
	}
	return chosen, nil
}

// applyPolicies runs an operator until every policy is Ready, its RBAC applied.
func (b *bench) applyPolicies(ctx context.Context) error {
	op, err := b.startOperator(ctx, "setup")
	if err != nil {
		return err
	}
	defer op.stop()
	return waitForPolicies(ctx, b.cl, b.c.Policies)
}
