package policy

import (
	"os/exec"
	"strings"
	"testing"
)

// The pure packages decide from data alone: they link no Kubernetes client and no controller
// code, so they can be reasoned about, fuzzed and benchmarked without a cluster, and so that no
// client-side init() (cert-manager's feature gates) runs in them.
func TestPurePackagesLinkNoClient(t *testing.T) {
	// client-go's apply configurations, which internal/rbac renders, link its REST and discovery
	// packages but no clientset, so those two are not on the list.
	forbidden := []string{
		"k8s.io/client-go/kubernetes",                         // the clientset
		"k8s.io/client-go/kubernetes/typed",                   // its typed clients
		"sigs.k8s.io/controller-runtime",                      // any of controller-runtime
		"github.com/cert-manager/cert-manager/pkg/controller", // cert-manager's controller code
	}
	for _, pkg := range []string{"internal/csr", "internal/policy", "internal/rbac"} {
		out, err := exec.Command("go", "list", "-deps", "github.com/signerpolicy/signer-policy-operator/"+pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, f := range forbidden {
				if dep == f || (f != "k8s.io/client-go/kubernetes" && strings.HasPrefix(dep, f+"/")) {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
}
