package acme

import (
	"net/http"
	"time"

	cmacme "github.com/cert-manager/cert-manager/pkg/apis/acme/v1"
	"github.com/go-acme/lego/v4/challenge/dns01"
	"github.com/go-acme/lego/v4/providers/dns/cloudflare"
	"github.com/go-acme/lego/v4/providers/dns/digitalocean"
	"github.com/go-acme/lego/v4/providers/dns/route53"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// The lego configurations are built field by field rather than from each package's
// NewDefaultConfig, which reads LEGO-specific environment variables: an issuer's behaviour must
// come from the issuer, not from whatever the operator's Pod environment holds.

// apiTimeout bounds each call to a DNS provider's HTTP API.
const apiTimeout = 30 * time.Second

// cloudflareMinTTL is the smallest TTL lego's Cloudflare provider accepts.
const cloudflareMinTTL = 120

func cloudflareConfig(spec *cmacme.ACMEIssuerDNS01ProviderCloudflare, secrets secretValues) (*cloudflare.Config, error) {
	token, err := secrets.optional(spec.APIToken, "dns01.cloudflare.apiTokenSecretRef")
	if err != nil {
		return nil, err
	}
	key, err := secrets.optional(spec.APIKey, "dns01.cloudflare.apiKeySecretRef")
	if err != nil {
		return nil, err
	}
	switch {
	case token != "" && key != "":
		return nil, signer.Pending(ReasonInvalidIssuer, "dns01.cloudflare sets both apiTokenSecretRef and apiKeySecretRef; set one")
	case token == "" && (key == "" || spec.Email == ""):
		return nil, signer.Pending(ReasonInvalidIssuer, "dns01.cloudflare needs apiTokenSecretRef, or apiKeySecretRef with email")
	}
	return &cloudflare.Config{
		AuthEmail: spec.Email, AuthKey: key, AuthToken: token,
		TTL: cloudflareMinTTL, PropagationTimeout: dns01.DefaultPropagationTimeout, PollingInterval: dns01.DefaultPollingInterval,
		HTTPClient: &http.Client{Timeout: apiTimeout},
	}, nil
}

func newCloudflare(spec *cmacme.ACMEIssuerDNS01ProviderCloudflare, secrets secretValues) (dnsProvider, error) {
	cfg, err := cloudflareConfig(spec, secrets)
	if err != nil {
		return nil, err
	}
	p, err := cloudflare.NewDNSProviderConfig(cfg)
	if err != nil {
		return nil, providerError("cloudflare", err)
	}
	return p, nil
}

// route53Config maps cert-manager's Route 53 solver. Without a secret access key the AWS SDK's
// ambient credentials (IRSA, instance profile) are used, as in cert-manager. lego is told not
// to wait for Route 53 to report the change INSYNC: that wait would block a reconcile, and the
// server is asked to validate on a later reconcile anyway.
func route53Config(spec *cmacme.ACMEIssuerDNS01ProviderRoute53, secrets secretValues) (*route53.Config, error) {
	if spec.Auth != nil && spec.Auth.Kubernetes != nil {
		return nil, signer.Permanent(ReasonUnsupportedSolver,
			"dns01.route53.auth.kubernetes (a ServiceAccount token for the AWS STS) is not supported; use ambient credentials or an access key")
	}
	accessKeyID := spec.AccessKeyID
	if spec.SecretAccessKeyID != nil && spec.SecretAccessKeyID.Name != "" {
		id, err := secrets.get(*spec.SecretAccessKeyID, "dns01.route53.accessKeyIDSecretRef")
		if err != nil {
			return nil, err
		}
		accessKeyID = id
	}
	secretKey, err := secrets.optional(&spec.SecretAccessKey, "dns01.route53.secretAccessKeySecretRef")
	if err != nil {
		return nil, err
	}
	if (accessKeyID == "") != (secretKey == "") {
		return nil, signer.Pending(ReasonInvalidIssuer, "dns01.route53 needs both an access key ID and a secret access key, or neither")
	}
	return &route53.Config{
		AccessKeyID: accessKeyID, SecretAccessKey: secretKey, Region: spec.Region,
		HostedZoneID: spec.HostedZoneID, AssumeRoleArn: spec.Role, MaxRetries: 5,
		WaitForRecordSetsChanged: false,
		TTL:                      10, PropagationTimeout: 2 * time.Minute, PollingInterval: 4 * time.Second,
	}, nil
}

func newRoute53(spec *cmacme.ACMEIssuerDNS01ProviderRoute53, secrets secretValues) (dnsProvider, error) {
	cfg, err := route53Config(spec, secrets)
	if err != nil {
		return nil, err
	}
	p, err := route53.NewDNSProviderConfig(cfg)
	if err != nil {
		return nil, providerError("route53", err)
	}
	return p, nil
}

func digitalOceanConfig(spec *cmacme.ACMEIssuerDNS01ProviderDigitalOcean, secrets secretValues) (*digitalocean.Config, error) {
	token, err := secrets.get(spec.Token, "dns01.digitalocean.tokenSecretRef")
	if err != nil {
		return nil, err
	}
	return &digitalocean.Config{
		AuthToken: token, TTL: 30,
		PropagationTimeout: dns01.DefaultPropagationTimeout, PollingInterval: 5 * time.Second,
		HTTPClient: &http.Client{Timeout: apiTimeout},
	}, nil
}

func newDigitalOcean(spec *cmacme.ACMEIssuerDNS01ProviderDigitalOcean, secrets secretValues) (dnsProvider, error) {
	cfg, err := digitalOceanConfig(spec, secrets)
	if err != nil {
		return nil, err
	}
	p, err := digitalocean.NewDNSProviderConfig(cfg)
	if err != nil {
		return nil, providerError("digitalocean", err)
	}
	return p, nil
}
