// Package image checks the operator image's recipe without a container engine: it builds the
// binary with the Dockerfile's own build command and checks what the image would ship.
package image

import (
	"bufio"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"

	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

type dockerfile struct {
	goImage string            // the builder's golang:<version>
	args    map[string]string // ARG defaults
	copies  []string          // COPY sources into the builder
	build   string            // the RUN line that builds the manager
	base    string            // the final stage's image
}

func parseDockerfile(t *testing.T, path string) dockerfile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := dockerfile{args: map[string]string{}}
	var cont string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(cont + sc.Text())
		if strings.HasSuffix(line, "\\") {
			cont = strings.TrimSuffix(line, "\\") + " "
			continue
		}
		cont = ""
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		switch fields[0] {
		case "FROM":
			if strings.HasPrefix(fields[1], "golang:") {
				d.goImage = strings.TrimPrefix(fields[1], "golang:")
			} else {
				d.base = fields[1]
			}
		case "ARG":
			if k, v, ok := strings.Cut(fields[1], "="); ok {
				d.args[k] = v
			}
		case "COPY":
			if !strings.HasPrefix(fields[1], "--from") {
				d.copies = append(d.copies, fields[1:len(fields)-1]...)
			}
		case "RUN":
			if strings.Contains(line, "go build") {
				d.build = strings.TrimSpace(strings.TrimPrefix(line, "RUN"))
			}
		}
	}
	return d
}

func TestDockerfileBuildsAStaticVersionedBinaryWithGoMatchingGoMod(t *testing.T) {
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	d := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	mod, err := modfile.Parse("go.mod", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if mod.Toolchain == nil || "go"+d.goImage != mod.Toolchain.Name {
		t.Errorf("Dockerfile builds with golang:%s, go.mod pins %v", d.goImage, mod.Toolchain)
	}
	if !strings.HasPrefix(d.base, "gcr.io/distroless/static") || !strings.HasSuffix(d.base, ":nonroot") {
		t.Errorf("final image is %q, want distroless static nonroot", d.base)
	}
	if !strings.Contains(d.build, "-trimpath") || !strings.Contains(d.build, "CGO_ENABLED=0") || !strings.Contains(d.build, "main.version=") {
		t.Errorf("build command %q lacks -trimpath, CGO_ENABLED=0 or the version ldflag", d.build)
	}

	// Run the Dockerfile's own build command, with its ARG defaults, into a temporary file.
	out := filepath.Join(t.TempDir(), "manager")
	args := map[string]string{}
	for k, v := range d.args {
		args[k] = v
	}
	args["VERSION"] = "v9.9.9-test"
	command := regexp.MustCompile(`\$\{(\w+)\}`).ReplaceAllStringFunc(d.build, func(m string) string { return args[m[2:len(m)-1]] })
	command = strings.Replace(command, "-o manager", "-o "+out, 1)
	build := exec.Command("sh", "-c", command)
	build.Dir = root
	if outp, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", command, err, outp)
	}

	bin, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer bin.Close()
	for _, p := range bin.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Fatal("the binary is dynamically linked; distroless/static has no libc")
		}
	}
	version, err := exec.Command(out, "--version").Output()
	if err != nil || strings.TrimSpace(string(version)) != "v9.9.9-test" {
		t.Errorf("--version printed %q (%v), want the injected v9.9.9-test", version, err)
	}
}

// Every package of the operator the binary links must be under a path the Dockerfile copies,
// or `docker build` would fail where `go build` here succeeds.
func TestDockerfileCopiesEverySourceTheBinaryNeeds(t *testing.T) {
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	d := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	list := exec.Command("go", "list", "-deps", "-f", "{{if .Module}}{{if .Module.Main}}{{.Dir}}{{end}}{{end}}", ".")
	list.Dir = root
	outp, err := list.Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range strings.Fields(string(outp)) {
		rel, _ := filepath.Rel(root, dir)
		covered := false
		for _, c := range d.copies {
			c = strings.TrimSuffix(strings.TrimPrefix(c, "./"), "/")
			if rel == "." && c == "main.go" || rel == c || strings.HasPrefix(rel, c+"/") {
				covered = true
			}
		}
		if !covered {
			t.Errorf("package directory %s is linked into the operator but the Dockerfile does not copy it", rel)
		}
	}
}
