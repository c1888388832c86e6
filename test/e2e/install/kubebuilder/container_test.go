//go:build !unit

package kubebuilder

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// There is no container engine here, so the image targets run against a stand-in that records
// its arguments: what matters is that each target asks the engine for the right thing.
func TestImageTargetsAskTheContainerEngineForTheRightImages(t *testing.T) {
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls")
	engine := filepath.Join(dir, "engine")
	script := "#!/bin/sh\necho \"$*\" >>" + calls + "\n"
	if err := os.WriteFile(engine, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	const bundleImage = "registry.example.com/team/signer-policy-operator-bundle:v9.9.9"
	for _, c := range []struct {
		target string
		want   string
	}{
		{"docker-build", "build --build-arg VERSION=v9.9.9 -t " + testImage + " ."},
		{"docker-push", "push " + testImage},
		{"bundle-build", "build -f bundle.Dockerfile -t " + bundleImage + " ."},
		{"bundle-push", "push " + bundleImage},
	} {
		if err := os.Remove(calls); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		mustMake(t, c.target, "CONTAINER_TOOL="+engine, "VERSION=v9.9.9", "IMG="+testImage, "BUNDLE_IMG="+bundleImage)
		data, err := os.ReadFile(calls)
		if err != nil {
			t.Fatalf("make %s did not run the container engine: %v", c.target, err)
		}
		if got := strings.Split(strings.TrimSpace(string(data)), "\n"); !slices.Equal(got, []string{c.want}) {
			t.Errorf("make %s ran the engine with %q, want %q", c.target, got, c.want)
		}
	}
}
