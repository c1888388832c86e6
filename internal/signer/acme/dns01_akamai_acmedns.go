package acme

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/akamai/AkamaiOPEN-edgegrid-golang/v13/pkg/edgegrid"
	cmacme "github.com/cert-manager/cert-manager/pkg/apis/acme/v1"
	"github.com/go-acme/lego/v4/challenge/dns01"
	"github.com/go-acme/lego/v4/providers/dns/acmedns"
	"github.com/go-acme/lego/v4/providers/dns/edgedns"
	"github.com/nrdcg/goacmedns"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// akamaiMaxBody is lego's edgedns request body limit.
const akamaiMaxBody = 131072

func akamaiConfig(spec *cmacme.ACMEIssuerDNS01ProviderAkamai, secrets secretValues) (*edgedns.Config, error) {
	clientToken, err := secrets.get(spec.ClientToken, "dns01.akamai.clientTokenSecretRef")
	if err != nil {
		return nil, err
	}
	clientSecret, err := secrets.get(spec.ClientSecret, "dns01.akamai.clientSecretSecretRef")
	if err != nil {
		return nil, err
	}
	accessToken, err := secrets.get(spec.AccessToken, "dns01.akamai.accessTokenSecretRef")
	if err != nil {
		return nil, err
	}
	return &edgedns.Config{
		Config: &edgegrid.Config{
			Host: spec.ServiceConsumerDomain, ClientToken: clientToken, ClientSecret: clientSecret, AccessToken: accessToken,
			MaxBody: akamaiMaxBody,
		},
		TTL: dns01.DefaultTTL, PropagationTimeout: 3 * time.Minute, PollingInterval: 15 * time.Second,
	}, nil
}

func newAkamai(spec *cmacme.ACMEIssuerDNS01ProviderAkamai, secrets secretValues) (dnsProvider, error) {
	cfg, err := akamaiConfig(spec, secrets)
	if err != nil {
		return nil, err
	}
	p, err := edgedns.NewDNSProviderConfig(cfg)
	if err != nil {
		return nil, providerError("akamai", err)
	}
	return p, nil
}

// acmeDNSAccounts reads the accounts JSON of cert-manager's acmeDNS solver: a map from domain to
// the acme-dns registration (username, password, fulldomain, subdomain).
func acmeDNSAccounts(spec *cmacme.ACMEIssuerDNS01ProviderAcmeDNS, secrets secretValues) (map[string]goacmedns.Account, error) {
	if spec.Host == "" {
		return nil, signer.Pending(ReasonInvalidIssuer, "dns01.acmeDNS.host is empty")
	}
	data, err := secrets.get(spec.AccountSecret, "dns01.acmeDNS.accountSecretRef")
	if err != nil {
		return nil, err
	}
	var accounts map[string]goacmedns.Account
	if json.Unmarshal([]byte(data), &accounts) != nil {
		// The decoder's message could quote part of the credentials, so it is left out.
		return nil, signer.Pending(signer.ReasonSecretInvalidData,
			"the Secret named by dns01.acmeDNS.accountSecretRef does not hold acme-dns accounts as JSON")
	}
	return accounts, nil
}

// newAcmeDNS uses lego's provider with the accounts kept in memory. lego's Config only takes a
// storage file or URL, which would mean writing the Secret's credentials to disk, and lego
// registers a new acme-dns account for a domain it has none for; cert-manager never does, and
// neither does accountStorage, which refuses.
func newAcmeDNS(spec *cmacme.ACMEIssuerDNS01ProviderAcmeDNS, secrets secretValues) (dnsProvider, error) {
	accounts, err := acmeDNSAccounts(spec, secrets)
	if err != nil {
		return nil, err
	}
	client, err := goacmedns.NewClient(spec.Host)
	if err != nil {
		return nil, providerError("acmeDNS", err)
	}
	//nolint:staticcheck // SA1019: the Config-based constructor cannot take credentials held in memory.
	p, err := acmedns.NewDNSProviderClient(client, accountStorage(accounts))
	if err != nil {
		return nil, providerError("acmeDNS", err)
	}
	return p, nil
}

// accountStorage is a read-only goacmedns.Storage over the issuer's Secret.
type accountStorage map[string]goacmedns.Account

var _ goacmedns.Storage = accountStorage(nil)

// errNoAcmeDNSAccount is deliberately not goacmedns' ErrDomainNotFound: that one makes lego
// register a new account.
var errNoAcmeDNSAccount = errors.New("the Secret named by dns01.acmeDNS.accountSecretRef has no account for this domain")

func (a accountStorage) Fetch(_ context.Context, domain string) (goacmedns.Account, error) {
	acct, ok := a[domain]
	if !ok {
		return goacmedns.Account{}, fmt.Errorf("%w: %s", errNoAcmeDNSAccount, domain)
	}
	return acct, nil
}

func (a accountStorage) FetchAll(context.Context) (map[string]goacmedns.Account, error) {
	return maps.Clone(map[string]goacmedns.Account(a)), nil
}

func (a accountStorage) Put(_ context.Context, domain string, _ goacmedns.Account) error {
	return fmt.Errorf("%w: %s", errNoAcmeDNSAccount, domain)
}

func (a accountStorage) Save(context.Context) error { return nil }
