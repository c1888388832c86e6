package approvers

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"time"

	cmtls "github.com/cert-manager/cert-manager/pkg/server/tls"
	"github.com/cert-manager/cert-manager/pkg/server/tls/authority"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ServingOptions say where the webhook's certificate authority is kept and what it serves.
type ServingOptions struct {
	// CASecret is the Secret holding the webhook's CA (created and rotated by the operator).
	CASecret types.NamespacedName
	// DNSNames are the serving certificate's names: the webhook Service's DNS name.
	DNSNames []string
	// WebhookConfiguration is the ValidatingWebhookConfiguration whose webhooks get the CA as
	// their caBundle.
	WebhookConfiguration string
}

// injectEvery is how often the CA bundle is checked besides on rotation, so that a re-applied
// webhook configuration (a GitOps sync that blanks caBundle) is repaired within a minute.
const injectEvery = time.Minute

// Serving makes the operator its own certificate authority for the webhook, as cert-manager's
// webhook is: the CA lives in a Secret (created, and rotated before it expires, by whichever
// replica gets there first), each replica serves a short-lived certificate the CA signs, held in
// memory and renewed on its own, and the CA is written into the webhook configuration's caBundle.
// No cert-manager controller is needed, and no Secret but that one is read.
type Serving struct {
	source   *cmtls.DynamicSource
	injector *caInjector
}

// NewServing prepares the certificate authority; AddTo starts it with the manager.
func NewServing(cfg *rest.Config, o ServingOptions) (*Serving, error) {
	if o.CASecret.Namespace == "" || o.CASecret.Name == "" || len(o.DNSNames) == 0 || o.WebhookConfiguration == "" {
		return nil, fmt.Errorf("webhook serving needs a CA Secret, DNS names and a webhook configuration, got %+v", o)
	}
	ca := &authority.DynamicAuthority{
		SecretNamespace: o.CASecret.Namespace, SecretName: o.CASecret.Name, RESTConfig: cfg,
		CommonName: "signer-policy-operator-webhook-ca",
	}
	return &Serving{
		source:   &cmtls.DynamicSource{DNSNames: o.DNSNames, Authority: ca},
		injector: &caInjector{ca: ca, secret: o.CASecret, configuration: o.WebhookConfiguration},
	}, nil
}

// TLSOption makes a webhook server serve the certificate the CA signs.
func (s *Serving) TLSOption(c *tls.Config) { c.GetCertificate = s.source.GetCertificate }

// AddTo runs the certificate source and the CA bundle injector with the manager, on every replica.
func (s *Serving) AddTo(mgr ctrl.Manager) error {
	s.injector.reader, s.injector.writer = mgr.GetAPIReader(), mgr.GetClient()
	if err := mgr.Add(s.source); err != nil {
		return err
	}
	return mgr.Add(s.injector)
}

// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations,verbs=get;update,resourceNames=signer-policy-approval-observer

// caInjector keeps the webhook configuration's caBundle equal to the CA in the Secret.
type caInjector struct {
	reader        client.Reader
	writer        client.Writer
	ca            *authority.DynamicAuthority
	secret        types.NamespacedName
	configuration string
}

// NeedLeaderElection is false: every replica serves the webhook, so every replica may repair the
// bundle its certificate needs; writes are idempotent.
func (*caInjector) NeedLeaderElection() bool { return false }

// Start injects at once, on every rotation of the CA and every injectEvery.
func (i *caInjector) Start(ctx context.Context) error {
	rotated := make(chan struct{}, 1)
	i.ca.WatchRotation(rotated)
	defer i.ca.StopWatchingRotation(rotated)
	tick := time.NewTicker(injectEvery)
	defer tick.Stop()
	log := ctrl.LoggerFrom(ctx).WithName("webhook-ca-injector")
	for {
		if err := i.inject(ctx); err != nil {
			log.Error(err, "cannot write the webhook's CA bundle; approvals still work, and their approvers are recorded as unknown until it is written",
				"validatingWebhookConfiguration", i.configuration)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-rotated:
		case <-tick.C:
		}
	}
}

func (i *caInjector) inject(ctx context.Context) error {
	var secret corev1.Secret
	if err := i.reader.Get(ctx, i.secret, &secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil // the authority creates it, and its rotation notice brings us back
		}
		return err
	}
	bundle := secret.Data["ca.crt"]
	if len(bundle) == 0 {
		return nil
	}
	var vwc admissionregistrationv1.ValidatingWebhookConfiguration
	if err := i.reader.Get(ctx, client.ObjectKey{Name: i.configuration}, &vwc); err != nil {
		return err
	}
	changed := false
	for j := range vwc.Webhooks {
		if !bytes.Equal(vwc.Webhooks[j].ClientConfig.CABundle, bundle) {
			vwc.Webhooks[j].ClientConfig.CABundle, changed = bundle, true
		}
	}
	if !changed {
		return nil
	}
	return i.writer.Update(ctx, &vwc)
}

// LeaderLabel marks the pod of the replica that leads, which alone records decisions, so that the
// webhook Service (selecting it) sends every observation to the replica that needs it. Other
// replicas serve the webhook too, for the moments between one leader and the next.
const LeaderLabel = "policy.signerpolicy.dev/webhook-leader"

// LeaderLabeler puts LeaderLabel on the leading replica's pod and takes it off every other pod of
// the namespace, when the replica is elected.
type LeaderLabeler struct {
	Reader    client.Reader
	Writer    client.Writer
	Namespace string
	Pod       string
}

// NeedLeaderElection is true: only the leader labels.
func (*LeaderLabeler) NeedLeaderElection() bool { return true }

// Start labels once on election; a leader that loses its lease exits, and its successor takes the
// label off it.
func (l *LeaderLabeler) Start(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithName("webhook-leader-label")
	for {
		err := l.label(ctx)
		if err == nil {
			<-ctx.Done()
			return nil
		}
		log.Error(err, "cannot label the leader's pod for the webhook Service; approvers of decisions the operator did not make may be recorded as unknown")
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(10 * time.Second):
		}
	}
}

func (l *LeaderLabeler) label(ctx context.Context) error {
	own := &corev1.Pod{}
	own.Namespace, own.Name = l.Namespace, l.Pod
	if err := l.Writer.Patch(ctx, own, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"`+LeaderLabel+`":"true"}}}`))); err != nil {
		return err
	}
	var pods corev1.PodList
	if err := l.Reader.List(ctx, &pods, client.InNamespace(l.Namespace), client.HasLabels{LeaderLabel}); err != nil {
		return err
	}
	for i := range pods.Items {
		if p := &pods.Items[i]; p.Name != l.Pod {
			patch := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"`+LeaderLabel+`":null}}}`))
			if err := l.Writer.Patch(ctx, p, patch); client.IgnoreNotFound(err) != nil {
				return err
			}
		}
	}
	return nil
}
