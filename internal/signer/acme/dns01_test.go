package acme

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	cmacme "github.com/cert-manager/cert-manager/pkg/apis/acme/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/signertest"
)

const testNamespace = "issuer-ns"

// credentials is one Secret holding every credential the tests reference.
func credentials(t *testing.T, data map[string]string) secretValues {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: "creds"}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return secretValues{ctx: context.Background(), reader: fake.NewClientBuilder().WithObjects(s).Build(), namespace: testNamespace}
}

func ref(key string) cmmeta.SecretKeySelector {
	return cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: "creds"}, Key: key}
}

func refp(key string) *cmmeta.SecretKeySelector {
	r := ref(key)
	return &r
}

func TestRFC2136Config(t *testing.T) {
	secrets := credentials(t, map[string]string{"tsig": "c2VjcmV0IHNlY3JldA==\n"})
	cfg, err := rfc2136Config(&cmacme.ACMEIssuerDNS01ProviderRFC2136{
		Nameserver: "10.0.0.53:53", TSIGKeyName: "key.", TSIGAlgorithm: "HMACSHA256", TSIGSecret: ref("tsig"),
	}, secrets)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Nameserver != "10.0.0.53:53" || cfg.TSIGKey != "key." || cfg.TSIGSecret != "c2VjcmV0IHNlY3JldA==" || cfg.TSIGAlgorithm != dns.HmacSHA256 {
		t.Errorf("config %+v", cfg)
	}
	if _, err := newRFC2136(&cmacme.ACMEIssuerDNS01ProviderRFC2136{Nameserver: "10.0.0.53", TSIGKeyName: "key.", TSIGAlgorithm: "hmacsha512", TSIGSecret: ref("tsig")}, secrets); err != nil {
		t.Errorf("building the provider: %v", err)
	}
	noTSIG, err := rfc2136Config(&cmacme.ACMEIssuerDNS01ProviderRFC2136{Nameserver: "10.0.0.53"}, secrets)
	if err != nil || noTSIG.TSIGKey != "" || noTSIG.TSIGSecret != "" {
		t.Errorf("without a key name: %+v, %v; want no TSIG", noTSIG, err)
	}
	_, err = rfc2136Config(&cmacme.ACMEIssuerDNS01ProviderRFC2136{Nameserver: "ns", TSIGKeyName: "key.", TSIGSecret: ref("tsig")}, secrets)
	signertest.ExpectPermanent(t, err, ReasonUnsupportedSolver) // cert-manager's default HMACMD5
	if !strings.Contains(err.Error(), "HMACMD5") {
		t.Errorf("message %q does not name HMACMD5", err)
	}
	_, err = rfc2136Config(&cmacme.ACMEIssuerDNS01ProviderRFC2136{Nameserver: "ns", TSIGKeyName: "key.", TSIGAlgorithm: "HMACSHA1", TSIGSecret: ref("missing")}, secrets)
	signertest.ExpectPending(t, err, signer.ReasonSecretInvalidData)
	_, err = rfc2136Config(&cmacme.ACMEIssuerDNS01ProviderRFC2136{}, secrets)
	signertest.ExpectPending(t, err, ReasonInvalidIssuer)
}

func TestCloudflareConfig(t *testing.T) {
	secrets := credentials(t, map[string]string{"token": "cf-token", "key": "cf-key"})
	cfg, err := cloudflareConfig(&cmacme.ACMEIssuerDNS01ProviderCloudflare{APIToken: refp("token")}, secrets)
	if err != nil || cfg.AuthToken != "cf-token" || cfg.AuthKey != "" || cfg.TTL < cloudflareMinTTL || cfg.HTTPClient == nil {
		t.Errorf("token config %+v, %v", cfg, err)
	}
	cfg, err = cloudflareConfig(&cmacme.ACMEIssuerDNS01ProviderCloudflare{Email: "a@example.com", APIKey: refp("key")}, secrets)
	if err != nil || cfg.AuthEmail != "a@example.com" || cfg.AuthKey != "cf-key" || cfg.AuthToken != "" {
		t.Errorf("key config %+v, %v", cfg, err)
	}
	if _, err := newCloudflare(&cmacme.ACMEIssuerDNS01ProviderCloudflare{APIToken: refp("token")}, secrets); err != nil {
		t.Errorf("building the provider: %v", err)
	}
	_, err = cloudflareConfig(&cmacme.ACMEIssuerDNS01ProviderCloudflare{APIKey: refp("key")}, secrets)
	signertest.ExpectPending(t, err, ReasonInvalidIssuer) // a key needs the email
	_, err = cloudflareConfig(&cmacme.ACMEIssuerDNS01ProviderCloudflare{Email: "a@example.com", APIKey: refp("key"), APIToken: refp("token")}, secrets)
	signertest.ExpectPending(t, err, ReasonInvalidIssuer)
}

func TestRoute53Config(t *testing.T) {
	secrets := credentials(t, map[string]string{"id": "AKIDFROMSECRET", "secret": "aws-secret"})
	cfg, err := route53Config(&cmacme.ACMEIssuerDNS01ProviderRoute53{
		AccessKeyID: "AKIDINLINE", SecretAccessKey: ref("secret"), Region: "eu-west-1", HostedZoneID: "Z123", Role: "arn:aws:iam::1:role/dns",
	}, secrets)
	if err != nil || cfg.AccessKeyID != "AKIDINLINE" || cfg.SecretAccessKey != "aws-secret" || cfg.Region != "eu-west-1" ||
		cfg.HostedZoneID != "Z123" || cfg.AssumeRoleArn != "arn:aws:iam::1:role/dns" || cfg.WaitForRecordSetsChanged {
		t.Errorf("config %+v, %v", cfg, err)
	}
	cfg, err = route53Config(&cmacme.ACMEIssuerDNS01ProviderRoute53{SecretAccessKeyID: refp("id"), SecretAccessKey: ref("secret")}, secrets)
	if err != nil || cfg.AccessKeyID != "AKIDFROMSECRET" {
		t.Errorf("access key ID from a Secret: %+v, %v", cfg, err)
	}
	ambient, err := route53Config(&cmacme.ACMEIssuerDNS01ProviderRoute53{Region: "us-east-1"}, secrets)
	if err != nil || ambient.AccessKeyID != "" || ambient.SecretAccessKey != "" {
		t.Errorf("ambient: %+v, %v", ambient, err)
	}
	if _, err := newRoute53(&cmacme.ACMEIssuerDNS01ProviderRoute53{Region: "us-east-1", AccessKeyID: "AKID", SecretAccessKey: ref("secret")}, secrets); err != nil {
		t.Errorf("building the provider: %v", err)
	}
	_, err = route53Config(&cmacme.ACMEIssuerDNS01ProviderRoute53{AccessKeyID: "AKID"}, secrets)
	signertest.ExpectPending(t, err, ReasonInvalidIssuer)
	_, err = route53Config(&cmacme.ACMEIssuerDNS01ProviderRoute53{Auth: &cmacme.Route53Auth{Kubernetes: &cmacme.Route53KubernetesAuth{}}}, secrets)
	signertest.ExpectPermanent(t, err, ReasonUnsupportedSolver)
}

func TestDigitalOceanConfig(t *testing.T) {
	secrets := credentials(t, map[string]string{"token": "do-token"})
	cfg, err := digitalOceanConfig(&cmacme.ACMEIssuerDNS01ProviderDigitalOcean{Token: ref("token")}, secrets)
	if err != nil || cfg.AuthToken != "do-token" || cfg.HTTPClient == nil {
		t.Errorf("config %+v, %v", cfg, err)
	}
	if _, err := newDigitalOcean(&cmacme.ACMEIssuerDNS01ProviderDigitalOcean{Token: ref("token")}, secrets); err != nil {
		t.Errorf("building the provider: %v", err)
	}
	_, err = digitalOceanConfig(&cmacme.ACMEIssuerDNS01ProviderDigitalOcean{Token: ref("nope")}, secrets)
	signertest.ExpectPending(t, err, signer.ReasonSecretInvalidData)
}

func TestAzureDNSConfig(t *testing.T) {
	secrets := credentials(t, map[string]string{"client-secret": "az-secret"})
	spec := &cmacme.ACMEIssuerDNS01ProviderAzureDNS{
		ClientID: "client", ClientSecret: refp("client-secret"), TenantID: "tenant", SubscriptionID: "sub",
		ResourceGroupName: "rg", HostedZoneName: "example.com", Environment: cmacme.AzureChinaCloud, ZoneType: cmacme.PrivateAzureZone,
	}
	cfg, err := azureDNSConfig(spec, secrets)
	if err != nil || cfg.ClientID != "client" || cfg.ClientSecret != "az-secret" || cfg.TenantID != "tenant" || cfg.AuthMethod != azureAuthClientSecret ||
		cfg.SubscriptionID != "sub" || cfg.ResourceGroup != "rg" || cfg.ZoneName != "example.com" || !cfg.PrivateZone ||
		cfg.Environment.ActiveDirectoryAuthorityHost != cloud.AzureChina.ActiveDirectoryAuthorityHost {
		t.Errorf("config %+v, %v", cfg, err)
	}
	// lego's azuredns provider discovers zones over the network when built, so only its
	// configuration is checked here.
	ambient, err := azureDNSConfig(&cmacme.ACMEIssuerDNS01ProviderAzureDNS{SubscriptionID: "sub", ResourceGroupName: "rg",
		ManagedIdentity: &cmacme.AzureManagedIdentity{ClientID: "mi"}}, secrets)
	if err != nil || ambient.AuthMethod != azureAuthDefault || ambient.ClientSecret != "" || ambient.PrivateZone {
		t.Errorf("ambient config %+v, %v", ambient, err)
	}
	_, err = azureDNSConfig(&cmacme.ACMEIssuerDNS01ProviderAzureDNS{ClientID: "client", TenantID: "tenant"}, secrets)
	signertest.ExpectPending(t, err, ReasonInvalidIssuer)
	_, err = azureDNSConfig(&cmacme.ACMEIssuerDNS01ProviderAzureDNS{Environment: cmacme.AzureGermanCloud}, secrets)
	signertest.ExpectPermanent(t, err, ReasonUnsupportedSolver)
}

func TestCloudDNSConfig(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	sa, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "from-key", "client_email": "dns@p.iam.gserviceaccount.com",
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})),
		"token_uri":   "https://oauth2.googleapis.com/token",
	})
	secrets := credentials(t, map[string]string{"sa.json": string(sa), "junk": "{not json"})
	spec := &cmacme.ACMEIssuerDNS01ProviderCloudDNS{Project: "proj", HostedZoneName: "zone", ServiceAccount: refp("sa.json")}
	cfg, err := cloudDNSConfig(context.Background(), spec, secrets)
	if err != nil || cfg.Project != "proj" || cfg.ZoneID != "zone" || cfg.HTTPClient == nil || cfg.HTTPClient.Timeout == 0 {
		t.Errorf("config %+v, %v", cfg, err)
	}
	if _, err := newCloudDNS(spec, secrets); err != nil {
		t.Errorf("building the provider: %v", err)
	}
	_, err = cloudDNSConfig(context.Background(), &cmacme.ACMEIssuerDNS01ProviderCloudDNS{Project: "proj", ServiceAccount: refp("junk")}, secrets)
	signertest.ExpectPending(t, err, signer.ReasonSecretInvalidData)
	_, err = cloudDNSConfig(context.Background(), &cmacme.ACMEIssuerDNS01ProviderCloudDNS{ServiceAccount: refp("sa.json")}, secrets)
	signertest.ExpectPending(t, err, ReasonInvalidIssuer)
}

func TestAkamaiConfig(t *testing.T) {
	secrets := credentials(t, map[string]string{"ct": "client-token", "cs": "client-secret", "at": "access-token"})
	spec := &cmacme.ACMEIssuerDNS01ProviderAkamai{ServiceConsumerDomain: "akab-x.luna.akamaiapis.net", ClientToken: ref("ct"), ClientSecret: ref("cs"), AccessToken: ref("at")}
	cfg, err := akamaiConfig(spec, secrets)
	if err != nil || cfg.Host != "akab-x.luna.akamaiapis.net" || cfg.ClientToken != "client-token" || cfg.ClientSecret != "client-secret" || cfg.AccessToken != "access-token" {
		t.Errorf("config %+v, %v", cfg, err)
	}
	if _, err := newAkamai(spec, secrets); err != nil {
		t.Errorf("building the provider: %v", err)
	}
	spec.AccessToken = ref("missing")
	_, err = akamaiConfig(spec, secrets)
	signertest.ExpectPending(t, err, signer.ReasonSecretInvalidData)
}

func TestAcmeDNSAccounts(t *testing.T) {
	accounts := `{"example.com": {"username": "u", "password": "p", "fulldomain": "x.auth.example.org", "subdomain": "x"}}`
	secrets := credentials(t, map[string]string{"accounts.json": accounts, "junk": "{not json"})
	spec := &cmacme.ACMEIssuerDNS01ProviderAcmeDNS{Host: "https://auth.example.org", AccountSecret: ref("accounts.json")}
	got, err := acmeDNSAccounts(spec, secrets)
	if err != nil || got["example.com"].Username != "u" || got["example.com"].FullDomain != "x.auth.example.org" {
		t.Errorf("accounts %+v, %v", got, err)
	}
	if _, err := newAcmeDNS(spec, secrets); err != nil {
		t.Errorf("building the provider: %v", err)
	}
	store := accountStorage(got)
	if acct, err := store.Fetch(context.Background(), "example.com"); err != nil || acct.Password != "p" {
		t.Errorf("fetching a known domain: %+v, %v", acct, err)
	}
	// Neither a lookup miss nor a Put may lead lego to register a new acme-dns account.
	if _, err := store.Fetch(context.Background(), "other.com"); !errors.Is(err, errNoAcmeDNSAccount) {
		t.Errorf("fetching an unknown domain: %v", err)
	}
	if err := store.Put(context.Background(), "other.com", got["example.com"]); err == nil {
		t.Error("Put succeeded on the read-only storage")
	}
	_, err = acmeDNSAccounts(&cmacme.ACMEIssuerDNS01ProviderAcmeDNS{Host: "https://auth.example.org", AccountSecret: ref("junk")}, secrets)
	signertest.ExpectPending(t, err, signer.ReasonSecretInvalidData)
	if strings.Contains(err.Error(), "not json") {
		t.Errorf("message %q quotes the Secret", err)
	}
}

func TestUnsupportedAndMissingDNSProviders(t *testing.T) {
	secrets := credentials(t, nil)
	_, err := newDNSProvider(&cmacme.ACMEChallengeSolverDNS01{Webhook: &cmacme.ACMEIssuerDNS01ProviderWebhook{GroupName: "g.example.com", SolverName: "s"}}, secrets)
	signertest.ExpectPermanent(t, err, ReasonUnsupportedSolver)
	if !strings.Contains(err.Error(), "webhook") || !strings.Contains(err.Error(), "g.example.com") {
		t.Errorf("message %q does not name the webhook solver", err)
	}
	_, err = newDNSProvider(&cmacme.ACMEChallengeSolverDNS01{}, secrets)
	signertest.ExpectPermanent(t, err, ReasonUnsupportedSolver)
	// A Secret that does not exist (yet) is waited for.
	missing := secretValues{ctx: context.Background(), reader: fake.NewClientBuilder().Build(), namespace: testNamespace}
	_, err = newDNSProvider(&cmacme.ACMEChallengeSolverDNS01{DigitalOcean: &cmacme.ACMEIssuerDNS01ProviderDigitalOcean{Token: ref("token")}}, missing)
	signertest.ExpectPending(t, err, signer.ReasonSecretMissing)
}
