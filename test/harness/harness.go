// Package harness runs every controller test against a real control plane: the kube-apiserver and
// etcd that `make controlplane` builds, with real RBAC, real subresources and the real CRDs of
// this operator and of cert-manager. It starts the control plane once per test package, runs the
// operator's manager in-process with the wiring main.go uses, and hands out admin and user clients
// and a fresh namespace per test.
package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/signerpolicy/signer-policy-operator/controllers"
	"github.com/signerpolicy/signer-policy-operator/internal/approvers"
)

// Env is a running control plane, optionally with the operator's manager running against it.
type Env struct {
	// Config is the admin's connection to the API server (group system:masters).
	Config *rest.Config
	// Scheme knows every kind the operator uses.
	Scheme *runtime.Scheme
	// Admin is a client with the admin's rights, reading straight from the API server.
	Admin client.Client
	// KubeConfig is an admin kubeconfig for kubectl.
	KubeConfig []byte

	env         *envtest.Environment
	stopManager func() error
	// usersMu serialises AddUser: envtest provisions users by writing to shared state.
	usersMu sync.Mutex
}

// Start starts the control plane, installs the CRDs and creates the given namespaces (the
// operator's cluster resource namespace, which a ClusterIssuer's Secrets need). Binaries come
// from KUBEBUILDER_ASSETS, or bin/k8s at the module root when that is unset.
func Start(namespaces ...string) (*Env, error) {
	root, err := ModuleRoot()
	if err != nil {
		return nil, err
	}
	cmCRDs, err := CertManagerCRDs(root)
	if err != nil {
		return nil, err
	}
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		// envtest reads the variable itself; setting it keeps one source of truth for the path.
		if err := os.Setenv("KUBEBUILDER_ASSETS", filepath.Join(root, "bin", "k8s")); err != nil {
			return nil, err
		}
	}
	scheme, err := controllers.NewScheme()
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		Scheme:                scheme,
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases"), cmCRDs},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting the control plane (run `make controlplane` first): %w", err)
	}
	admin, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, errors.Join(err, env.Stop())
	}
	for _, ns := range namespaces {
		if err := admin.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return nil, errors.Join(fmt.Errorf("creating namespace %s: %w", ns, err), env.Stop())
		}
	}
	return &Env{Config: cfg, Scheme: scheme, Admin: admin, KubeConfig: env.KubeConfig, env: env}, nil
}

// Main is the body of a test package's TestMain: it starts the control plane and the manager,
// runs the tests and stops everything, returning the exit code.
func Main(m *testing.M, out **Env, opts controllers.Options) int {
	var namespaces []string
	if ns := opts.ClusterResourceNamespace; ns != "" {
		namespaces = append(namespaces, ns)
	}
	return runPackage(m, out, namespaces, func(e *Env) error { return e.StartManager(opts) })
}

// ControlPlaneMain is Main without the manager, for a package whose tests start the operator
// themselves (to restart it, to break what is underneath it) or need only the API server.
func ControlPlaneMain(m *testing.M, out **Env, namespaces ...string) int {
	return runPackage(m, out, namespaces, func(*Env) error { return nil })
}

func runPackage(m *testing.M, out **Env, namespaces []string, startOperator func(*Env) error) int {
	LogToStderr()
	e, err := Start(namespaces...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := startOperator(e); err != nil {
		fmt.Fprintln(os.Stderr, err)
		_ = e.Stop()
		return 1
	}
	*out = e
	code := m.Run()
	if err := e.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the control plane:", err)
	}
	return code
}

// LogToStderr sends controller-runtime's logs to stderr, errors only unless TEST_LOG_LEVEL asks
// for more (debug, info). Tests provoke errors on purpose (conflicts, missing Secrets, a stopped
// API server), so an error logged is never the verdict; the assertions are.
func LogToStderr() {
	logf.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.UseDevMode(true), zap.Level(zapLevel())))
}

// StartManager runs the operator's controllers in-process as OperatorConfig's identity, so every
// suite proves that the ClusterRole the operator ships with is enough for what it tests.
func (e *Env) StartManager(opts controllers.Options) error {
	cfg, err := e.OperatorConfig()
	if err != nil {
		return err
	}
	stop, err := e.RunManager(cfg, opts, metricsserver.Options{BindAddress: "0"})
	if err != nil {
		return err
	}
	e.stopManager = stop
	return nil
}

// OperatorServiceAccount is the identity StartManager's operator acts as.
const OperatorServiceAccount = "system:serviceaccount:signer-policy-system:signer-policy-operator"

// OperatorConfig is a REST config that impersonates OperatorServiceAccount, bound to exactly the
// ClusterRole `make manifests` generates (config/rbac/role.yaml) and nothing else.
func (e *Env) OperatorConfig() (*rest.Config, error) {
	root, err := ModuleRoot()
	if err != nil {
		return nil, err
	}
	objs, err := ReadObjects(filepath.Join(root, "config", "rbac", "role.yaml"))
	if err != nil {
		return nil, err
	}
	if len(objs) != 1 || objs[0].GetKind() != "ClusterRole" {
		return nil, errors.New("config/rbac/role.yaml does not hold one ClusterRole")
	}
	role := objs[0]
	role.SetName("harness:operator")
	binding := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
		"metadata": map[string]any{"name": "harness:operator"},
		"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "harness:operator"},
		"subjects": []any{map[string]any{"kind": "ServiceAccount", "namespace": "signer-policy-system", "name": "signer-policy-operator"}},
	}}
	if err := Apply(context.Background(), e.Admin, []*unstructured.Unstructured{role, binding}); err != nil {
		return nil, err
	}
	cfg := rest.CopyConfig(e.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: OperatorServiceAccount,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:signer-policy-system", "system:authenticated"}}
	return cfg, nil
}

// RunManager runs the operator's controllers in-process with the given credentials (for
// example a config impersonating the operator's service account) and metrics server, and
// returns a function that stops it.
func (e *Env) RunManager(cfg *rest.Config, opts controllers.Options, metrics metricsserver.Options) (stop func() error, err error) {
	var webhookServer webhook.Server
	var serving *approvers.Serving
	if opts.Approvers != nil {
		if webhookServer, serving, err = e.approvalWebhook(cfg); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	events, err := controllers.NewEventBroadcaster(opts.Metrics, ctrl.Log.WithName("events"))
	if err != nil {
		cancel()
		return nil, err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		WebhookServer:          webhookServer,
		Scheme:                 e.Scheme,
		Cache:                  controllers.CacheOptions(),
		NewCache:               controllers.NewCacheStoppedBy(ctx.Done()),
		Metrics:                metrics,
		EventBroadcaster:       events, //nolint:staticcheck // as main.go builds it
		HealthProbeBindAddress: "0",
		// A test package may start more than one manager (restarts); names repeat by design.
		// A controller whose informers never sync (an identity missing a list permission) gives
		// up instead of holding the manager, so it can be stopped.
		Controller: config.Controller{SkipNameValidation: ptr.To(true), CacheSyncTimeout: 30 * time.Second},
	})
	if err != nil {
		cancel()
		events.Shutdown()
		return nil, fmt.Errorf("creating manager: %w", err)
	}
	if serving != nil {
		if err := serving.AddTo(mgr); err != nil {
			cancel()
			return nil, err
		}
	}
	if err := controllers.Setup(ctx, mgr, opts); err != nil {
		cancel()
		events.Shutdown()
		return nil, err
	}
	done := make(chan error, 1)
	go func() {
		err := mgr.Start(ctx)
		events.Shutdown()
		done <- err
	}()
	// An identity that may not list what the controllers watch never syncs; give up rather
	// than hang, so tests of missing permissions can tell.
	syncCtx, cancelSync := context.WithTimeout(ctx, 20*time.Second)
	defer cancelSync()
	if !mgr.GetCache().WaitForCacheSync(syncCtx) {
		cancel()
		select {
		case err := <-done:
			return nil, errors.Join(errors.New("manager cache did not sync"), err)
		case <-time.After(time.Minute):
			return nil, errors.New("manager cache did not sync, and the manager did not stop within a minute")
		}
	}
	return func() error { cancel(); return <-done }, nil
}

// StopManager stops the operator's manager, as a crash or a rollout would; StartManager starts a
// new one. Tests of restarts use the pair.
func (e *Env) StopManager() error {
	if e.stopManager == nil {
		return nil
	}
	stop := e.stopManager
	e.stopManager = nil
	return stop()
}

// Stop stops the manager, if running, and the control plane.
func (e *Env) Stop() error {
	return errors.Join(e.StopManager(), e.env.Stop())
}

// UserConfig returns a REST config authenticated as the named user with the given groups, so
// that what the user creates carries a real spec.username and spec.groups and every request is
// authorized by the API server's RBAC.
func (e *Env) UserConfig(t testing.TB, name string, groups ...string) *rest.Config {
	t.Helper()
	u, err := e.AddUser(name, groups...)
	if err != nil {
		t.Fatalf("adding user %q: %v", name, err)
	}
	return u.Config()
}

// AddUser provisions a client certificate for the named user with the given groups; its
// Config and KubeConfig authenticate as that user.
func (e *Env) AddUser(name string, groups ...string) (*envtest.AuthenticatedUser, error) {
	e.usersMu.Lock()
	defer e.usersMu.Unlock()
	return e.env.AddUser(envtest.User{Name: name, Groups: groups}, e.Config)
}

// User returns a client acting as the named user.
func (e *Env) User(t testing.TB, name string, groups ...string) client.Client {
	t.Helper()
	c, err := client.New(e.UserConfig(t, name, groups...), client.Options{Scheme: e.Scheme})
	if err != nil {
		t.Fatalf("creating client for %q: %v", name, err)
	}
	return c
}

// Namespace creates a fresh namespace for the test and deletes it when the test ends.
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "t-"}}
	if err := e.Admin.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	t.Cleanup(func() { _ = e.Admin.Delete(context.Background(), ns) })
	return ns.Name
}

// Create creates obj as the admin and deletes it when the test ends. Cluster-scoped objects
// outlive namespaces, so tests that make them must clean them up this way.
func (e *Env) Create(t testing.TB, obj client.Object) {
	t.Helper()
	if err := e.Admin.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
	t.Cleanup(func() { _ = client.IgnoreNotFound(e.Admin.Delete(context.Background(), obj)) })
}

// ModuleRoot finds the operator's module root by walking up from the working directory, which
// `go test` sets to the package being tested.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(data), "module github.com/signerpolicy/signer-policy-operator\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("module root of signer-policy-operator not found above the working directory")
		}
		dir = parent
	}
}

// CertManagerCRDs is the directory of cert-manager's CRDs inside the cert-manager module the
// operator builds against, so tests always use the CRDs of the API types they compile with.
func CertManagerCRDs(root string) (string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/cert-manager/cert-manager")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("locating the cert-manager module: %w", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "deploy", "crds"), nil
}

// zapLevel keeps test output to errors unless TEST_LOG_LEVEL asks for more (debug, info).
func zapLevel() zapcore.Level {
	if l, err := zapcore.ParseLevel(os.Getenv("TEST_LOG_LEVEL")); err == nil && os.Getenv("TEST_LOG_LEVEL") != "" {
		return l
	}
	return zapcore.ErrorLevel
}

// Eventually polls check every 100ms until it returns nil, failing the test with the last error
// after timeout. Controllers converge asynchronously, so tests wait on observable state.
func Eventually(t testing.TB, timeout time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not true after %s: %v", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
