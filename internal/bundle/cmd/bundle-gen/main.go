// Command bundle-gen writes the OLM bundle (bundle/ and bundle.Dockerfile) from config/manifests,
// and its dependencies from the external APIs of the kubebuilder PROJECT file.
// `make bundle` runs it; the result is committed, and a test fails when it is stale.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/signerpolicy/signer-policy-operator/internal/bundle"
)

func main() {
	config := flag.String("config", "config/manifests", "Kustomization to build the bundle from.")
	out := flag.String("out", "bundle", "Bundle directory to write.")
	dockerfile := flag.String("dockerfile", "bundle.Dockerfile", "Bundle image Dockerfile to write.")
	project := flag.String("project", "PROJECT", "kubebuilder PROJECT file whose external APIs the bundle depends on.")
	flag.Parse()
	if err := run(*config, *project, *out, *dockerfile); err != nil {
		fmt.Fprintln(os.Stderr, "bundle-gen:", err)
		os.Exit(1)
	}
}

func run(config, project, out, dockerfile string) error {
	objs, err := bundle.Build(config)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(project)
	if err != nil {
		return err
	}
	dependencies, err := bundle.ExternalAPIs(data)
	if err != nil {
		return err
	}
	files, err := bundle.Generate(objs, dependencies)
	if err != nil {
		return err
	}
	// Start from empty directories so that a manifest config/ no longer produces disappears.
	for _, dir := range []string{"manifests", "metadata", "tests"} {
		if err := os.RemoveAll(filepath.Join(out, dir)); err != nil {
			return err
		}
	}
	for name, data := range files {
		path := filepath.Join(out, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(dockerfile, bundle.Dockerfile(), 0o644)
}
