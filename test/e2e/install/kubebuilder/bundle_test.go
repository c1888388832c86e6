//go:build !unit

package kubebuilder

import (
	"bytes"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// `make bundle` writes the bundle that is committed: run into a temporary directory, it produces
// bundle/ and bundle.Dockerfile byte for byte.
func TestBundleTargetWritesTheCommittedBundle(t *testing.T) {
	out := t.TempDir()
	mustMake(t, "bundle", "BUNDLE_DIR="+filepath.Join(out, "bundle"), "BUNDLE_DOCKERFILE="+filepath.Join(out, "bundle.Dockerfile"))
	got, committed := readTree(t, filepath.Join(out, "bundle")), readTree(t, filepath.Join(root, "bundle"))
	for _, name := range slices.Sorted(maps.Keys(union(got, committed))) {
		if !bytes.Equal(got[name], committed[name]) {
			t.Errorf("bundle/%s: make bundle writes %d bytes, %d are committed", name, len(got[name]), len(committed[name]))
		}
	}
	for _, name := range []string{"metadata/dependencies.yaml", "tests/scorecard/config.yaml"} {
		if got[name] == nil {
			t.Errorf("make bundle writes no bundle/%s", name)
		}
	}
	gotDockerfile, err1 := os.ReadFile(filepath.Join(out, "bundle.Dockerfile"))
	wantDockerfile, err2 := os.ReadFile(filepath.Join(root, "bundle.Dockerfile"))
	if err1 != nil || err2 != nil || !bytes.Equal(gotDockerfile, wantDockerfile) {
		t.Errorf("make bundle writes a different bundle.Dockerfile (%v, %v)", err1, err2)
	}
}

func union(a, b map[string][]byte) map[string][]byte {
	all := maps.Clone(a)
	maps.Copy(all, b)
	return all
}

func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path)
		files[rel] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
