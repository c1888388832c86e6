package helm

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chartutil"
)

// TestREADMEDocumentsEveryValue holds the chart's README to its values.yaml: every value has a
// row in the README's table (a row for a map, such as resources, covers what is inside it), and
// every row names a value that exists.
func TestREADMEDocumentsEveryValue(t *testing.T) {
	vals, err := chartutil.ReadValuesFile(filepath.Join(chartDir(t), "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(chartDir(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([^`]+)` \\|").FindAllStringSubmatch(string(readme), -1) {
		rows = append(rows, m[1])
	}
	if len(rows) == 0 {
		t.Fatal("README.md has no table of values (rows starting | `name` |)")
	}
	paths := valuePaths("", vals.AsMap())
	for _, p := range paths {
		if !slices.ContainsFunc(rows, func(row string) bool { return p == row || strings.HasPrefix(p, row+".") }) {
			t.Errorf("values.yaml has %s; README.md's table does not document it", p)
		}
	}
	for _, row := range rows {
		if !slices.ContainsFunc(paths, func(p string) bool { return p == row || strings.HasPrefix(p, row+".") }) {
			t.Errorf("README.md documents %s, which values.yaml does not have", row)
		}
	}
}

// valuePaths lists the dotted paths of every value: a non-empty map is walked into, anything
// else (scalars, lists, empty maps) is a value.
func valuePaths(prefix string, m map[string]any) []string {
	var paths []string
	for k, v := range m {
		p := strings.TrimPrefix(prefix+"."+k, ".")
		if sub, ok := v.(map[string]any); ok && len(sub) > 0 {
			paths = append(paths, valuePaths(p, sub)...)
		} else {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	return paths
}
