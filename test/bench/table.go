package main

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"text/tabwriter"
)

func printTables(out io.Writer, r result) {
	c := r.Config
	issuerKind := "ClusterIssuer"
	if c.Namespaced {
		issuerKind = "Issuer"
	}
	fmt.Fprintf(out, "%d CSRs per workload (%s keys, %s %s, %d SignerPolicies, %d requesters, %d at once)\n",
		c.N, c.Key, c.Issuer, issuerKind, c.Policies, c.Requesters, c.Concurrency)
	for _, wr := range r.Workloads {
		w := workloads[slices.IndexFunc(workloads, func(w workload) bool { return w.name == wr.Workload })]
		printWorkload(out, w, wr)
	}
	if c.Scale > 0 {
		w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintf(w, "\nwith %d more CSRs present: steady RSS (MiB)\t%.1f\n", c.Scale, r.ScaleSteadyRSSMiB)
		fmt.Fprintf(w, "with %d more CSRs present: one new CSR (ms, median of %d)\t%.0f\n", c.Scale, singles, r.ScaleNewCSRMillis)
		fmt.Fprintf(w, "with %d more CSRs present: operator CPU and API requests per new CSR\t%.1f ms, %.1f\n", c.Scale, r.ScaleNewCSRCPUMs, r.ScaleNewCSRCalls)
		_ = w.Flush()
	}
}

func printWorkload(out io.Writer, w workload, r workloadResult) {
	fmt.Fprintf(out, "\n%s\n", w.title)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	rate := "certificates per second"
	if w.backlog {
		rate = "certificates per second, first to last"
	}
	fmt.Fprintf(tw, "%s\t%.1f\n", rate, r.CertsPerSecond)
	fmt.Fprintf(tw, "ceiling: the same writes, no operator\t%.1f\n", r.CeilingPerSecond)
	fmt.Fprintf(tw, "fraction of the ceiling\t%.2f\n", r.FractionOfCeiling)
	if w.backlog {
		fmt.Fprintf(tw, "operator start to first certificate (ms)\t%.0f\n", r.FirstCertificateMillis)
	}
	fmt.Fprintf(tw, "%s to certificate (ms)\t%s\n", w.latencyFrom, r.Latency)
	ceilingFrom := w.latencyFrom
	if w.backlog {
		ceilingFrom = "first write" // no operator starts for the ceiling
	}
	fmt.Fprintf(tw, "ceiling: %s to certificate (ms)\t%s\n", ceilingFrom, r.CeilingLatency)
	fmt.Fprintf(tw, "API requests per certificate (operator's client metrics)\t%.2f\n", r.RequestsPerCert)
	kinds := slices.SortedFunc(maps.Keys(r.RequestsByKind), func(a, b string) int {
		return cmp.Or(cmp.Compare(r.RequestsByKind[b], r.RequestsByKind[a]), cmp.Compare(a, b))
	})
	fmt.Fprintf(tw, "  by verb and resource (API server audit log):\t\n")
	for _, kind := range kinds {
		fmt.Fprintf(tw, "    %s\t%.3f\n", kind, r.RequestsByKind[kind])
	}
	fmt.Fprintf(tw, "operator CPU seconds per 1000 certificates\t%.2f\n", r.CPUSecondsPer1000)
	fmt.Fprintf(tw, "operator peak RSS (MiB)\t%.1f\n", r.PeakRSSMiB)
	_ = tw.Flush()
}

func (l latency) String() string {
	return fmt.Sprintf("p50 %.0f  p90 %.0f  p99 %.0f  max %.0f", l.P50, l.P90, l.P99, l.Max)
}
