package main

import (
	"fmt"
	"io"
	"text/tabwriter"
)

func printTable(out io.Writer, r result) {
	c := r.Config
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "CSRs\t%d (%s keys, %s issuer, %d SignerPolicies, %d requesters, %d at once)\n", c.N, c.Key, c.Issuer, c.Policies, c.Requesters, c.Concurrency)
	fmt.Fprintf(w, "certificates per second\t%.1f\n", r.CertsPerSecond)
	fmt.Fprintf(w, "creation to certificate (ms)\tp50 %.0f  p90 %.0f  p99 %.0f  max %.0f\n", r.P50, r.P90, r.P99, r.Max)
	fmt.Fprintf(w, "API requests per CSR (operator)\t%.2f\n", r.RequestsPerCSR)
	fmt.Fprintf(w, "operator CPU seconds\t%.2f\n", r.CPUSeconds)
	fmt.Fprintf(w, "operator peak RSS (MiB)\t%.1f\n", r.PeakRSSMiB)
	fmt.Fprintf(w, "ceiling: approve+status writes only\t%.1f per second\n", r.CeilingPerSecond)
	fmt.Fprintf(w, "fraction of the ceiling\t%.2f\n", r.FractionOfCeiling)
	if c.Scale > 0 {
		fmt.Fprintf(w, "with %d more CSRs present: steady RSS (MiB)\t%.1f\n", c.Scale, r.ScaleSteadyRSSMiB)
		fmt.Fprintf(w, "with %d more CSRs present: one new CSR (ms, median of %d)\t%.0f\n", c.Scale, singles, r.ScaleNewCSRMillis)
		fmt.Fprintf(w, "with %d more CSRs present: operator CPU and API requests per new CSR\t%.1f ms, %.1f\n", c.Scale, r.ScaleNewCSRCPUMs, r.ScaleNewCSRCalls)
	}
	_ = w.Flush()
}
