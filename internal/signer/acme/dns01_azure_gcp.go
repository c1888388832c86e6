package acme

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	cmacme "github.com/cert-manager/cert-manager/pkg/apis/acme/v1"
	"github.com/go-acme/lego/v4/challenge/dns01"
	"github.com/go-acme/lego/v4/providers/dns/azuredns"
	"github.com/go-acme/lego/v4/providers/dns/gcloud"
	"golang.org/x/oauth2/google"
	gdns "google.golang.org/api/dns/v1"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// lego's azuredns authentication methods: a client secret, or the default credential chain
// (workload identity, managed identity, ...), which is cert-manager's ambient mode.
const (
	azureAuthClientSecret = "env"
	azureAuthDefault      = ""
)

// azureDNSConfig maps cert-manager's Azure DNS solver. A managed identity's client or resource
// ID cannot be handed to lego; the default credential chain it falls back to honours the
// AZURE_CLIENT_ID of the operator's Pod instead.
func azureDNSConfig(spec *cmacme.ACMEIssuerDNS01ProviderAzureDNS, secrets secretValues) (*azuredns.Config, error) {
	env, err := azureEnvironment(spec.Environment)
	if err != nil {
		return nil, err
	}
	cfg := &azuredns.Config{
		ZoneName: spec.HostedZoneName, SubscriptionID: spec.SubscriptionID, ResourceGroup: spec.ResourceGroupName,
		PrivateZone: spec.ZoneType == cmacme.PrivateAzureZone, Environment: env,
		AuthMethod: azureAuthDefault, AuthMSITimeout: 2 * time.Second,
		TTL: 60, PropagationTimeout: 2 * time.Minute, PollingInterval: 2 * time.Second,
		HTTPClient: &http.Client{Timeout: apiTimeout},
	}
	if spec.ClientID == "" {
		return cfg, nil
	}
	secret, err := secrets.optional(spec.ClientSecret, "dns01.azureDNS.clientSecretSecretRef")
	if err != nil {
		return nil, err
	}
	if secret == "" || spec.TenantID == "" {
		return nil, signer.Pending(ReasonInvalidIssuer, "dns01.azureDNS.clientID needs clientSecretSecretRef and tenantID")
	}
	cfg.ClientID, cfg.ClientSecret, cfg.TenantID, cfg.AuthMethod = spec.ClientID, secret, spec.TenantID, azureAuthClientSecret
	return cfg, nil
}

// azureEnvironment accepts the names cert-manager accepts. Azure Germany was retired and has
// no configuration in the Azure SDK.
func azureEnvironment(name cmacme.AzureDNSEnvironment) (cloud.Configuration, error) {
	switch strings.ToUpper(string(name)) {
	case "", "AZURECLOUD", "AZUREPUBLICCLOUD":
		return cloud.AzurePublic, nil
	case "AZUREUSGOVERNMENT", "AZUREUSGOVERNMENTCLOUD":
		return cloud.AzureGovernment, nil
	case "AZURECHINACLOUD":
		return cloud.AzureChina, nil
	}
	return cloud.Configuration{}, signer.Permanent(ReasonUnsupportedSolver, "dns01.azureDNS.environment %q is not supported", name)
}

func newAzureDNS(spec *cmacme.ACMEIssuerDNS01ProviderAzureDNS, secrets secretValues) (dnsProvider, error) {
	cfg, err := azureDNSConfig(spec, secrets)
	if err != nil {
		return nil, err
	}
	p, err := azuredns.NewDNSProviderConfig(cfg)
	if err != nil {
		return nil, providerError("azureDNS", err)
	}
	return p, nil
}

// cloudDNSConfig maps cert-manager's Google Cloud DNS solver: the service account key from the
// referenced Secret, or Google's application default credentials when none is referenced.
func cloudDNSConfig(ctx context.Context, spec *cmacme.ACMEIssuerDNS01ProviderCloudDNS, secrets secretValues) (*gcloud.Config, error) {
	if spec.Project == "" {
		return nil, signer.Pending(ReasonInvalidIssuer, "dns01.cloudDNS.project is empty")
	}
	saKey, err := secrets.optional(spec.ServiceAccount, "dns01.cloudDNS.serviceAccountSecretRef")
	if err != nil {
		return nil, err
	}
	var httpClient *http.Client
	if saKey != "" {
		jwt, err := google.JWTConfigFromJSON([]byte(saKey), gdns.NdevClouddnsReadwriteScope)
		if err != nil {
			// The parser's message is about the JSON's shape; the key itself is not quoted.
			return nil, signer.Pending(signer.ReasonSecretInvalidData,
				"the Secret named by dns01.cloudDNS.serviceAccountSecretRef does not hold a service account key")
		}
		httpClient = jwt.Client(ctx)
	} else {
		httpClient, err = google.DefaultClient(ctx, gdns.NdevClouddnsReadwriteScope)
		if err != nil {
			return nil, providerError("cloudDNS", err)
		}
	}
	httpClient.Timeout = apiTimeout
	return &gcloud.Config{
		Project: spec.Project, ZoneID: spec.HostedZoneName,
		TTL: dns01.DefaultTTL, PropagationTimeout: 180 * time.Second, PollingInterval: 5 * time.Second,
		HTTPClient: httpClient,
	}, nil
}

func newCloudDNS(spec *cmacme.ACMEIssuerDNS01ProviderCloudDNS, secrets secretValues) (dnsProvider, error) {
	// The client must outlive this reconcile (token refreshes use its context), so it gets
	// a background context rather than the request's.
	cfg, err := cloudDNSConfig(context.Background(), spec, secrets)
	if err != nil {
		return nil, err
	}
	p, err := gcloud.NewDNSProviderConfig(cfg)
	if err != nil {
		return nil, providerError("cloudDNS", err)
	}
	return p, nil
}
