package acme

import (
	"strings"
	"time"

	cmacme "github.com/cert-manager/cert-manager/pkg/apis/acme/v1"
	"github.com/go-acme/lego/v4/challenge/dns01"
	"github.com/go-acme/lego/v4/providers/dns/rfc2136"
	"github.com/miekg/dns"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// dnsTimeout bounds one DNS UPDATE or SOA lookup.
const dnsTimeout = 10 * time.Second

// tsigAlgorithm maps cert-manager's TSIG algorithm names to lego's.
func tsigAlgorithm(name string) (string, bool) {
	switch name {
	case "HMACSHA1":
		return dns.HmacSHA1, true
	case "HMACSHA256":
		return dns.HmacSHA256, true
	case "HMACSHA512":
		return dns.HmacSHA512, true
	}
	return "", false
}

// rfc2136Config builds lego's RFC 2136 configuration from cert-manager's solver. The TSIG
// secret is the base64 value stored in the referenced Secret, passed on as it is.
//
// Two cert-manager settings have no lego equivalent: HMACMD5 (cert-manager's default when
// tsigAlgorithm is empty and a key is set), which lego refuses, so it is reported rather than
// silently swapped for another algorithm the server would reject; and protocol, since lego
// always sends updates over UDP.
func rfc2136Config(spec *cmacme.ACMEIssuerDNS01ProviderRFC2136, secrets secretValues) (*rfc2136.Config, error) {
	if spec.Nameserver == "" {
		return nil, signer.Pending(ReasonInvalidIssuer, "dns01.rfc2136.nameserver is empty")
	}
	cfg := &rfc2136.Config{
		Nameserver:         spec.Nameserver,
		DNSTimeout:         dnsTimeout,
		TTL:                dns01.DefaultTTL,
		PropagationTimeout: dns01.DefaultPropagationTimeout,
		PollingInterval:    dns01.DefaultPollingInterval,
	}
	if spec.TSIGKeyName == "" {
		return cfg, nil
	}
	alg := strings.ToUpper(spec.TSIGAlgorithm)
	if alg == "" {
		alg = "HMACMD5"
	}
	legoAlg, ok := tsigAlgorithm(alg)
	if !ok {
		return nil, signer.Permanent(ReasonUnsupportedSolver,
			"dns01.rfc2136.tsigAlgorithm %s is not supported (unset means HMACMD5); use HMACSHA1, HMACSHA256 or HMACSHA512", alg)
	}
	secret, err := secrets.get(spec.TSIGSecret, "dns01.rfc2136.tsigSecretSecretRef")
	if err != nil {
		return nil, err
	}
	cfg.TSIGKey, cfg.TSIGSecret, cfg.TSIGAlgorithm = spec.TSIGKeyName, strings.TrimSpace(secret), legoAlg
	return cfg, nil
}

func newRFC2136(spec *cmacme.ACMEIssuerDNS01ProviderRFC2136, secrets secretValues) (dnsProvider, error) {
	cfg, err := rfc2136Config(spec, secrets)
	if err != nil {
		return nil, err
	}
	p, err := rfc2136.NewDNSProviderConfig(cfg)
	if err != nil {
		return nil, providerError("rfc2136", err)
	}
	return p, nil
}
