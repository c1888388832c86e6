package acme

import (
	"context"
	"time"

	cmacme "github.com/cert-manager/cert-manager/pkg/apis/acme/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"github.com/go-acme/lego/v4/challenge"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// dnsProvider is a lego DNS provider: it writes and removes the _acme-challenge TXT record.
type dnsProvider = challenge.Provider

// dns01Solver presents through a lego DNS provider built for each use from the issuer's
// configuration and Secrets, so that rotated credentials are picked up without a restart.
type dns01Solver struct {
	provider dnsProvider
}

// sequential honours lego's marker for providers whose challenges must be solved one at a
// time. lego also waits the returned interval between them; that wait exists for its own
// propagation checks, and presenting the next challenge only once the previous authorization
// is valid already keeps their records apart.
func (d *dns01Solver) sequential() bool {
	_, ok := d.provider.(interface{ Sequential() time.Duration })
	return ok
}

func (d *dns01Solver) present(_ context.Context, rec challengeRecord, keyAuth string) error {
	// lego providers take no context; each bounds its own calls with the timeouts set in the
	// configurations built below.
	return d.provider.Present(rec.Identifier, rec.Token, keyAuth)
}

func (d *dns01Solver) cleanUp(_ context.Context, rec challengeRecord, keyAuth string) error {
	return d.provider.CleanUp(rec.Identifier, rec.Token, keyAuth)
}

// dns01Solver builds the provider for the configured DNS service. Secrets are read from the
// issuer's resource namespace, like cert-manager.
func (s *Signer) dns01Solver(ctx context.Context, cfg *cmacme.ACMEChallengeSolverDNS01, namespace string) (solver, error) {
	provider, err := newDNSProvider(cfg, secretValues{ctx: ctx, reader: s.secrets, namespace: namespace})
	if err != nil {
		return nil, err
	}
	return &dns01Solver{provider: provider}, nil
}

// newDNSProvider picks the lego provider matching the cert-manager solver configuration.
func newDNSProvider(cfg *cmacme.ACMEChallengeSolverDNS01, secrets secretValues) (dnsProvider, error) {
	switch {
	case cfg.RFC2136 != nil:
		return newRFC2136(cfg.RFC2136, secrets)
	case cfg.Cloudflare != nil:
		return newCloudflare(cfg.Cloudflare, secrets)
	case cfg.Route53 != nil:
		return newRoute53(cfg.Route53, secrets)
	case cfg.DigitalOcean != nil:
		return newDigitalOcean(cfg.DigitalOcean, secrets)
	case cfg.AzureDNS != nil:
		return newAzureDNS(cfg.AzureDNS, secrets)
	case cfg.CloudDNS != nil:
		return newCloudDNS(cfg.CloudDNS, secrets)
	case cfg.Akamai != nil:
		return newAkamai(cfg.Akamai, secrets)
	case cfg.AcmeDNS != nil:
		return newAcmeDNS(cfg.AcmeDNS, secrets)
	case cfg.Webhook != nil:
		return nil, signer.Permanent(ReasonUnsupportedSolver,
			"the dns01.webhook solver (groupName %q, solverName %q) is not supported: webhook solvers run inside cert-manager",
			cfg.Webhook.GroupName, cfg.Webhook.SolverName)
	}
	return nil, signer.Permanent(ReasonUnsupportedSolver, "the dns01 solver configures no DNS provider this operator supports")
}

// providerError reports a provider that refused its configuration. lego's messages name the
// missing or invalid setting, never a credential's value.
func providerError(name string, err error) error {
	return signer.Pending(ReasonInvalidIssuer, "the dns01.%s solver cannot be configured: %v", name, err)
}

// secretValues reads solver credentials from Secrets in one namespace.
type secretValues struct {
	ctx       context.Context
	reader    client.Reader
	namespace string
}

// get returns the value under sel.Key of the Secret sel names; field is the issuer field that
// names it, for messages. A missing Secret or key is pending, like the account key's.
func (v secretValues) get(sel cmmeta.SecretKeySelector, field string) (string, error) {
	secret, err := signer.ReadSecret(v.ctx, v.reader, v.namespace, sel.Name, field)
	if err != nil {
		return "", err
	}
	value, ok := secret.Data[sel.Key]
	if sel.Key == "" || !ok || len(value) == 0 {
		return "", signer.Pending(signer.ReasonSecretInvalidData, "Secret %s/%s named by %s has no data under %q",
			v.namespace, sel.Name, field, sel.Key)
	}
	return string(value), nil
}

// optional is get for selectors that may be absent.
func (v secretValues) optional(sel *cmmeta.SecretKeySelector, field string) (string, error) {
	if sel == nil || sel.Name == "" {
		return "", nil
	}
	return v.get(*sel, field)
}
