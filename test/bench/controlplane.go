package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/signerpolicy/signer-policy-operator/controllers"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

// operatorUser is who the operator authenticates as. It is in system:masters, as the admin is,
// so that authorization costs the same for it as for the ceiling client; its own name lets the
// API server's audit log single out its requests.
const operatorUser = "bench-operator"

// auditPolicy logs one line per finished request of the operator's user and nothing else, so
// the audit log costs the other clients nothing and counts exactly the operator's requests by
// verb, resource and subresource (the operator's own client metrics only know the HTTP method).
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived", "ResponseStarted"]
rules:
- level: Metadata
  users: ["` + operatorUser + `"]
- level: None
`

// cluster is the control plane of a run: the harness's, plus the audit log. The harness cannot
// pass flags to kube-apiserver, so the bench starts envtest itself with the harness's CRDs and
// scheme.
type cluster struct {
	config   *rest.Config
	scheme   *runtime.Scheme
	admin    client.Client
	auditLog string
	env      *envtest.Environment
}

func startCluster(root, dir string) (*cluster, error) {
	cmCRDs, err := harness.CertManagerCRDs(root)
	if err != nil {
		return nil, err
	}
	scheme, err := controllers.NewScheme()
	if err != nil {
		return nil, err
	}
	policyPath, auditLog := filepath.Join(dir, "audit-policy.yaml"), filepath.Join(dir, "audit.log")
	if err := os.WriteFile(policyPath, []byte(auditPolicy), 0o600); err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		Scheme:                scheme,
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases"), cmCRDs},
		ErrorIfCRDPathMissing: true,
	}
	env.ControlPlane.GetAPIServer().Configure().Set("audit-policy-file", policyPath).Set("audit-log-path", auditLog)
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting the control plane (run `make controlplane` first): %w", err)
	}
	admin, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, errors.Join(err, env.Stop())
	}
	return &cluster{config: cfg, scheme: scheme, admin: admin, auditLog: auditLog, env: env}, nil
}

func (c *cluster) stop() error { return c.env.Stop() }

// user provisions a client certificate for the named user.
func (c *cluster) user(name string, groups ...string) (*envtest.AuthenticatedUser, error) {
	return c.env.AddUser(envtest.User{Name: name, Groups: groups}, c.config)
}

// userClient is a client acting as the named user. The bench's users stand for many clients;
// client-side throttling would measure the benchmark, not the operator.
func (c *cluster) userClient(name string, groups ...string) (client.Client, error) {
	u, err := c.user(name, groups...)
	if err != nil {
		return nil, err
	}
	cfg := u.Config()
	cfg.QPS, cfg.Burst = -1, 0
	return client.New(cfg, client.Options{Scheme: c.scheme})
}

func (c *cluster) createNamespace(ctx context.Context, name string) error {
	return c.admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
}
