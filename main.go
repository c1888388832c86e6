// Command signer-policy-operator governs Kubernetes CertificateSigningRequests for cert-manager
// issuers: SignerPolicies say who may request what, and the operator generates the RBAC, decides
// the CSRs and signs the approved ones.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/zapr"
	uberzap "go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"gopkg.in/natefinch/lumberjack.v2"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/signerpolicy/signer-policy-operator/controllers"
	"github.com/signerpolicy/signer-policy-operator/internal/approvers"
	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/acme"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/ca"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/selfsigned"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/vault"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/venafi"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// flags are the operator's command-line settings, beside zap's --zap-* logging flags.
type flags struct {
	metricsAddr              string
	metricsSecure            bool
	probeAddr                string
	pprofAddr                string
	leaderElect              bool
	leaderElectionNamespace  string
	clusterResourceNamespace string
	concurrency              int
	referenceReviewTTL       time.Duration
	controllers              string
	acmeHTTP01Address        string
	acmeHTTP01Service        string
	version                  bool
	auditLog                 auditLogFlags
	webhook                  webhookFlags
}

// webhookFlags configure the observing admission webhook on the approval subresource, which the
// process running the approval controller serves.
type webhookFlags struct {
	address string
	// port is the one address names, once parsed.
	port          int32
	certDir       string
	caSecret      string
	service       string
	configuration string
}

func parseFlags(zapOpts *zap.Options) flags {
	var f flags
	flag.StringVar(&f.metricsAddr, "metrics-bind-address", "0", `Address the metrics endpoint binds to, such as :8443; "0" disables it.`)
	flag.BoolVar(&f.metricsSecure, "metrics-secure", true, "Serve metrics over HTTPS, to scrapers the API server authenticates and authorizes.")
	flag.StringVar(&f.probeAddr, "health-probe-bind-address", ":8081", "Address the health probes bind to.")
	flag.StringVar(&f.pprofAddr, "pprof-bind-address", "0",
		`Address Go's profiling endpoints (/debug/pprof) bind to, such as 127.0.0.1:6060, to measure where the operator spends its time; "0" disables them. They are unauthenticated: bind them to loopback.`)
	flag.BoolVar(&f.leaderElect, "leader-elect", false, "Elect a leader so that only one replica acts at a time.")
	flag.StringVar(&f.leaderElectionNamespace, "leader-election-namespace", "",
		"Namespace of the leader election Lease (default: the operator's own namespace; required with --leader-elect outside a cluster).")
	flag.StringVar(&f.clusterResourceNamespace, "cluster-resource-namespace", "",
		"Namespace of ClusterIssuers' Secrets (default: the operator's own namespace).")
	flag.IntVar(&f.concurrency, "concurrency", 16,
		"CSRs each CSR controller works on at once. 16 kept a 2-core control plane at its ceiling in make bench, where 4 left it at half; most of a CSR's time is spent waiting on the API server, not the CPU.")
	flag.DurationVar(&f.referenceReviewTTL, "reference-review-ttl", controllers.DefaultReferenceReviewTTL,
		"How long an allowed reference check (the SubjectAccessReview asking whether a CSR's requester may use a namespaced Issuer) is reused for the same requester identity (user, UID, groups, extra) and Issuer; 0 asks for every CSR. "+
			"Any change to a Role or RoleBinding of the Issuer's namespace, or to any ClusterRole or ClusterRoleBinding, drops it at once through a watch, so this bounds only revocations that watch cannot see (another authorizer, a watch that is down). Denials are never reused.")
	flag.StringVar(&f.controllers, "controllers", "policy,approval,signing",
		"Controllers to run: policy (status and generated RBAC), approval, signing. Run them in separate Deployments to keep the approve and sign powers apart.")
	flag.StringVar(&f.acmeHTTP01Address, "acme-http01-bind-address", ":8089",
		"Address the ACME HTTP-01 challenge listener binds to (signing controller only).")
	flag.StringVar(&f.acmeHTTP01Service, "acme-http01-service", "",
		"namespace/name of the Service in front of the challenge listener, which http01.ingress solvers route to (default: <own namespace>/signer-policy-acme-http01).")
	flag.BoolVar(&f.version, "version", false, "Print the version and exit.")
	flag.StringVar(&f.auditLog.path, "audit-log-path", "",
		"File the governance records are written to, rotated as the --audit-log-max* flags say (default: stderr).")
	flag.IntVar(&f.auditLog.maxSize, "audit-log-maxsize", 100, "Megabytes the audit log file grows to before it is rotated.")
	flag.IntVar(&f.auditLog.maxAge, "audit-log-maxage", 0, "Days rotated audit log files are kept (0: by --audit-log-maxbackup alone).")
	flag.IntVar(&f.auditLog.maxBackups, "audit-log-maxbackup", 10, "Rotated audit log files kept (0: all, within --audit-log-maxage).")
	flag.StringVar(&f.webhook.address, "webhook-bind-address", "0",
		`Address the approval-observing webhook binds to, such as :9443, in the process running the approval controller; "0" disables it, and approvers of decisions the operator did not make are then recorded as unknown.`)
	flag.StringVar(&f.webhook.certDir, "webhook-cert-dir", "",
		"Directory holding the webhook's tls.crt and tls.key when something else provisions them (OLM does); empty: the operator is its own CA (--webhook-ca-secret).")
	flag.StringVar(&f.webhook.caSecret, "webhook-ca-secret", "signer-policy-webhook-ca",
		"Secret, in the operator's namespace, holding the CA the operator creates and rotates for its webhook.")
	flag.StringVar(&f.webhook.service, "webhook-service", "signer-policy-webhook",
		"Service, in the operator's namespace, in front of the webhook: its DNS name is the serving certificate's.")
	flag.StringVar(&f.webhook.configuration, "webhook-configuration", "signer-policy-approval-observer",
		"ValidatingWebhookConfiguration whose caBundle the operator keeps equal to its webhook CA.")
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	return f
}

func run() error {
	zapOpts := zap.Options{}
	f := parseFlags(&zapOpts)
	if f.version {
		fmt.Println(version)
		return nil
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	log := ctrl.Log.WithName("setup")
	auditLog := auditLogger(f.auditLog)

	scheme, err := controllers.NewScheme()
	if err != nil {
		return err
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	selected := strings.Split(f.controllers, ",")
	metrics := metricsserver.Options{BindAddress: f.metricsAddr, SecureServing: f.metricsSecure}
	if f.metricsSecure {
		metrics.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	// The core/v1 event broadcaster, counting the events it drops under load; the manager leaves
	// shutting down a broadcaster it was given to us.
	events, err := controllers.NewEventBroadcaster(ctrlmetrics.Registry, ctrl.Log.WithName("events"))
	if err != nil {
		return err
	}
	defer events.Shutdown()
	ctx := ctrl.SetupSignalHandler()
	webhookServer, serving, err := f.webhookServer(cfg, selected)
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		WebhookServer:          webhookServer,
		Scheme:                 scheme,
		Cache:                  controllers.CacheOptions(),
		NewCache:               controllers.NewCacheStoppedBy(ctx.Done()),
		Metrics:                metrics,
		EventBroadcaster:       events, //nolint:staticcheck // the core/v1 recorder, as controllers.ApprovalReconciler.Events explains
		HealthProbeBindAddress: f.probeAddr,
		PprofBindAddress:       f.pprofAddr,
		LeaderElection:         f.leaderElect,
		// Empty means the pod's own namespace, which a process outside a cluster does not have.
		LeaderElectionNamespace: f.leaderElectionNamespace,
		// Each set of controllers elects its own leader, so split Deployments both act.
		LeaderElectionID: "signer-policy-operator-" + strings.Join(selected, "-"),
	})
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}
	if f.clusterResourceNamespace == "" {
		if f.clusterResourceNamespace, err = ownNamespace(); err != nil {
			return err
		}
	}
	if serving != nil {
		if err := serving.AddTo(mgr); err != nil {
			return err
		}
	}
	if pod, ip, ns := os.Getenv("POD_NAME"), os.Getenv("POD_IP"), os.Getenv("POD_NAMESPACE"); webhookServer != nil && pod != "" && ip != "" && ns != "" {
		endpoint := &approvers.LeaderEndpoint{Writer: mgr.GetClient(), Namespace: ns, PodName: pod, PodIP: ip, Port: f.webhook.port}
		if err := mgr.Add(endpoint); err != nil {
			return err
		}
	}
	acmeOpts, err := f.acmeOptions(selected)
	if err != nil {
		return err
	}
	opts := controllers.Options{
		// One signer per issuer type, built here with the clients they need; a policy for a type
		// not listed is not Ready. Secrets are read through the API reader; only the CA issuers'
		// keypairs, read for every CSR, are kept while the watch sees them unchanged.
		Signers: func(mgr ctrl.Manager) (*signer.Registry, error) {
			secrets := mgr.GetAPIReader()
			venafiSigner, err := venafi.New(venafi.Options{APIReader: secrets, Clock: clock.RealClock{}})
			if err != nil {
				return nil, err
			}
			acmeSigner, err := acme.New(mgr, acmeOpts)
			if err != nil {
				return nil, err
			}
			return signer.NewRegistry(
				// A CA's keypair is read for every CSR: from memory while the watch sees it unchanged.
				signer.Entry{Type: signer.TypeCA, Signer: ca.New(signer.NewSecretCache(secrets, mgr.GetCache()))},
				signer.Entry{Type: signer.TypeSelfSigned, Signer: selfsigned.New(secrets)},
				signer.Entry{Type: signer.TypeVault, Signer: vault.New(secrets, mgr.GetClient(), clock.RealClock{})},
				signer.Entry{Type: signer.TypeVenafi, Signer: venafiSigner},
				signer.Entry{Type: signer.TypeACME, Signer: acmeSigner},
			)
		},
		ClusterResourceNamespace: f.clusterResourceNamespace,
		Concurrency:              f.concurrency,
		ReferenceReviewTTL:       referenceReviewTTL(f.referenceReviewTTL),
		Controllers:              selected,
		Metrics:                  ctrlmetrics.Registry,
		AuditLog:                 &auditLog,
	}
	if webhookServer != nil {
		opts.Approvers = approvers.NewObservations(clock.RealClock{})
	}
	if err := controllers.Setup(ctx, mgr, opts); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	log.Info("starting signer-policy-operator", "version", version, "controllers", selected)
	return mgr.Start(ctx)
}

// acmeOptions configure the ACME signer's HTTP-01 listener, which only a process running the
// signing controller serves: the policy and approval Deployments of a split install need none.
func (f flags) acmeOptions(selected []string) (acme.Options, error) {
	if !slices.Contains(selected, controllers.ControllerSigning) {
		return acme.Options{}, nil
	}
	service := f.acmeHTTP01Service
	if service == "" {
		ns, err := ownNamespace()
		if err != nil {
			ns = f.clusterResourceNamespace
		}
		service = ns + "/signer-policy-acme-http01"
	}
	ns, name, ok := strings.Cut(service, "/")
	if !ok || ns == "" || name == "" {
		return acme.Options{}, fmt.Errorf("--acme-http01-service %q: want namespace/name", service)
	}
	return acme.Options{
		HTTP01Address: f.acmeHTTP01Address, HTTP01Service: types.NamespacedName{Namespace: ns, Name: name},
		// The challenge server reads ClusterIssuers' account keys from there.
		ClusterResourceNamespace: f.clusterResourceNamespace,
	}, nil
}

// webhookServer is the server of the approval-observing webhook, nil when this process serves none
// (it runs no approval controller, or --webhook-bind-address=0), with the operator's own CA unless
// --webhook-cert-dir names mounted certificates.
func (f *flags) webhookServer(cfg *rest.Config, selected []string) (webhook.Server, *approvers.Serving, error) {
	if f.webhook.address == "0" || !slices.Contains(selected, controllers.ControllerApproval) {
		return nil, nil, nil
	}
	host, portText, err := net.SplitHostPort(f.webhook.address)
	if err != nil {
		return nil, nil, fmt.Errorf("--webhook-bind-address %q: %w", f.webhook.address, err)
	}
	port, err := strconv.ParseInt(portText, 10, 32)
	if err != nil {
		return nil, nil, fmt.Errorf("--webhook-bind-address %q: %w", f.webhook.address, err)
	}
	f.webhook.port = int32(port)
	opts := webhook.Options{Host: host, Port: int(port)}
	if f.webhook.certDir != "" {
		opts.CertDir = f.webhook.certDir
		return webhook.NewServer(opts), nil, nil
	}
	ns, err := ownNamespace()
	if err != nil {
		return nil, nil, err
	}
	serving, err := approvers.NewServing(cfg, approvers.ServingOptions{
		CASecret:             types.NamespacedName{Namespace: ns, Name: f.webhook.caSecret},
		DNSNames:             []string{f.webhook.service + "." + ns + ".svc", f.webhook.service + "." + ns + ".svc.cluster.local"},
		WebhookConfiguration: f.webhook.configuration,
	})
	if err != nil {
		return nil, nil, err
	}
	opts.TLSOpts = []func(*tls.Config){serving.TLSOption}
	return webhook.NewServer(opts), serving, nil
}

// auditLogFlags say where the governance records go, named as kube-apiserver's --audit-log-*.
type auditLogFlags struct {
	path                        string
	maxSize, maxAge, maxBackups int
}

// auditLogger writes the governance records: one JSON line each on stderr, or in a rotated file,
// whatever the --zap-* flags say, and never sampled. The manager's production logger keeps, per
// second, only the first 100 entries with one message and every 100th after; every record has the
// same message, so a burst of CSRs would lose exactly the records that are the durable trail.
func auditLogger(f auditLogFlags) logr.Logger {
	config := uberzap.NewProductionEncoderConfig()
	config.EncodeTime = zapcore.RFC3339TimeEncoder
	out := zapcore.Lock(os.Stderr)
	if f.path != "" {
		out = zapcore.AddSync(&lumberjack.Logger{Filename: f.path, MaxSize: f.maxSize, MaxAge: f.maxAge, MaxBackups: f.maxBackups})
	}
	core := zapcore.NewCore(zapcore.NewJSONEncoder(config), out, zapcore.InfoLevel)
	return zapr.NewLogger(uberzap.New(core))
}

// ownNamespace is the namespace the operator runs in: POD_NAMESPACE (set from the downward API
// by the Deployment), else the service account's namespace file.
func ownNamespace() (string, error) {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns, nil
	}
	data, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
	if err != nil {
		return "", fmt.Errorf("cannot tell the operator's namespace; set --cluster-resource-namespace: %w", err)
	}
	return strings.TrimSpace(string(data)), nil
}

// referenceReviewTTL turns the flag, where 0 means never reuse, into controllers.Options, where 0
// means the default.
func referenceReviewTTL(flagValue time.Duration) time.Duration {
	if flagValue <= 0 {
		return -1
	}
	return flagValue
}
