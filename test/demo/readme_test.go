package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The README check passes on another run's output, whatever names, serials, times and ages that
// run printed, and names the transcript lines no run printed.
func TestCheckREADMEAllowsWhatVariesAndNamesWhatDrifted(t *testing.T) {
	readme := filepath.Join(t.TempDir(), "README.md")
	transcript := "```\n$ kubectl get csr dana-ab12c\nNAME         AGE   CONDITION\ndana-ab12c   0s    Denied\n" +
		"  serial:     3d6afe3b78fab6462cd59e97de78680cb6a22e52\n  valid:      2026-11-22T13:25:36Z to 2026-12-22T13:25:36Z (720h0m0s)\n" +
		"==> The governance record of dana-ab12c's certificate\n{\n  \"abridged\": ...\n}\n```\n"
	if err := os.WriteFile(readme, []byte("# x\n\n"+transcript), 0o600); err != nil {
		t.Fatal(err)
	}
	run := "$ kubectl get csr dana-zz9yx\nNAME          AGE    CONDITION\ndana-zz9yx   12s   Denied\n" +
		"  serial:     0123456789abcdef0123456789abcdef01234567\n  valid:      2027-01-01T00:00:00Z to 2027-01-31T00:00:00Z (720h0m0s)\n" +
		"==> The governance record of dana-zz9yx's certificate\n{\"whole\": \"record\"}\n"
	if err := checkREADME(readme, []byte(run)); err != nil {
		t.Errorf("a faithful transcript was refused: %v", err)
	}
	drifted := strings.Replace(run, "Denied", "Approved,Issued", 1)
	err := checkREADME(readme, []byte(drifted))
	if err == nil || !strings.Contains(err.Error(), "dana-ab12c   0s    Denied") {
		t.Errorf("a drifted transcript was not named: %v", err)
	}
}
