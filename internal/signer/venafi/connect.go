package venafi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"time"

	"github.com/Venafi/vcert/v5/pkg/endpoint"
	"github.com/Venafi/vcert/v5/pkg/venafi/cloud"
	"github.com/Venafi/vcert/v5/pkg/venafi/tpp"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// Keys of the issuers' Secrets, as cert-manager reads them.
const (
	tppUsernameKey     = "username"
	tppPasswordKey     = "password"
	tppAccessTokenKey  = "access-token"
	tppClientIDKey     = "client-id"
	defaultCloudAPIKey = "api-key"
)

const (
	// defaultTPPClientID is cert-manager's, so a TPP API integration set up for cert-manager
	// serves this operator unchanged.
	defaultTPPClientID = "cert-manager.io"
	// tppScope is all this signer does with a token.
	tppScope = "certificate:manage"
)

// Names in messages: the services, and the URL vcert uses for a Cloud issuer that names none.
const (
	serviceTPP      = "Venafi TPP"
	serviceCloud    = "Venafi Cloud"
	defaultCloudURL = "https://api.venafi.cloud"
)

// session is an authenticated vcert connector for one Sign call, with what messages about it
// need. Each Sign builds its own: vcert connectors keep their token and HTTP client in mutable
// fields, so sharing one between concurrent reconciles would mix them up.
type session struct {
	service string // serviceTPP or serviceCloud
	url     string // as the issuer spells it
	zone    string
	issuer  string // issuerName of the issuer
	// credentials names the Secret holding the credentials.
	credentials string
	conn        endpoint.Connector
	// tpp is conn when the service is TPP, for the calls only TPP has.
	tpp *tpp.Connector
	rec *recorder
	// secrets are the credential values of this session, scrubbed from every message.
	secrets []string
}

// open connects and authenticates to the service the issuer names.
func (s *Signer) open(ctx context.Context, req signer.Request, spec *cmapi.VenafiIssuer) (*session, error) {
	switch {
	case spec.TPP != nil:
		return s.openTPP(ctx, req, spec)
	case spec.Cloud != nil:
		return s.openCloud(ctx, req, spec)
	}
	return nil, signer.Pending(ReasonErrorVenafiInit,
		"%s configures neither spec.venafi.tpp nor spec.venafi.cloud; this operator signs for Venafi TPP and Venafi Cloud", issuerName(req.Issuer))
}

func (s *Signer) openTPP(ctx context.Context, req signer.Request, spec *cmapi.VenafiIssuer) (*session, error) {
	ns := req.ResourceNamespace
	secret, err := signer.ReadSecret(ctx, s.reader, ns, spec.TPP.CredentialsRef.Name, "spec.venafi.tpp.credentialsRef.name")
	if err != nil {
		return nil, err
	}
	token := string(secret.Data[tppAccessTokenKey])
	user, password := string(secret.Data[tppUsernameKey]), string(secret.Data[tppPasswordKey])
	if token == "" && (user == "" || password == "") {
		return nil, signer.Pending(signer.ReasonSecretInvalidData, "Secret %s/%s named by spec.venafi.tpp.credentialsRef.name has neither %s nor %s and %s",
			ns, secret.Name, tppAccessTokenKey, tppUsernameKey, tppPasswordKey)
	}
	clientID := string(secret.Data[tppClientIDKey])
	if clientID == "" {
		clientID = defaultTPPClientID
	}
	roots, err := s.tppRoots(ctx, req, spec.TPP)
	if err != nil {
		return nil, err
	}
	conn, err := tpp.NewConnector(spec.TPP.URL, spec.Zone, false, nil)
	if err != nil {
		return nil, signer.Pending(ReasonErrorVenafiInit, "%s: spec.venafi.tpp.url %q is not a TPP WebSDK URL such as https://tpp.example.com/vedsdk",
			issuerName(req.Issuer), spec.TPP.URL)
	}
	// IIS, which serves TPP, may renegotiate TLS to ask for client certificates per folder; Go
	// refuses renegotiation unless told, and cert-manager allows it once for the same reason.
	httpClient, rec := s.httpClient(ctx, roots, tls.RenegotiateOnceAsClient)
	conn.SetHTTPClient(httpClient)
	conn.SetUserAgent(s.userAgent)
	sess := &session{
		service: serviceTPP, url: spec.TPP.URL, zone: spec.Zone, issuer: issuerName(req.Issuer),
		credentials: "Secret " + ns + "/" + secret.Name, conn: conn, tpp: conn, rec: rec,
		secrets: []string{token, user, password},
	}
	if err := sess.loginTPP(token, user, password, clientID); err != nil {
		return nil, err
	}
	return sess, nil
}

// loginTPP authenticates as cert-manager does: an access token is checked with
// vedauth/authorize/verify; a username and password are exchanged for a token with
// vedauth/authorize/oauth, which then identifies itself with vedsdk/Identity/Self. The legacy
// API-key login (vedsdk/authorize) is never used: TPP 22.4 and later removed it.
func (sess *session) loginTPP(token, user, password, clientID string) error {
	sess.rec.reset()
	if token != "" {
		_, err := call(func() (tpp.OauthVerifyTokenResponse, error) {
			return sess.tpp.VerifyAccessToken(&endpoint.Authentication{AccessToken: token})
		})
		if err != nil {
			return sess.failure(stepLogin, "verifying the access token", err)
		}
		return nil
	}
	grant, err := call(func() (tpp.OauthGetRefreshTokenResponse, error) {
		return sess.tpp.GetRefreshToken(&endpoint.Authentication{User: user, Password: password, ClientId: clientID, Scope: tppScope})
	})
	if err != nil {
		return sess.failure(stepLogin, "requesting an access token", err)
	}
	sess.secrets = append(sess.secrets, grant.Access_token, grant.Refresh_token)
	sess.rec.reset()
	if _, err := call(func() (struct{}, error) {
		return struct{}{}, sess.tpp.Authenticate(&endpoint.Authentication{AccessToken: grant.Access_token})
	}); err != nil {
		return sess.failure(stepLogin, "identifying with the access token", err)
	}
	return nil
}

// tppRoots returns the CAs to trust for the TPP server: the issuer's inline caBundle, else the
// Secret caBundleSecretRef names (key ca.crt by default), else the signer's RootCAs.
func (s *Signer) tppRoots(ctx context.Context, req signer.Request, spec *cmapi.VenafiTPP) (*x509.CertPool, error) {
	var bundle []byte
	source := "spec.venafi.tpp.caBundle"
	switch {
	case len(spec.CABundle) > 0:
		bundle = spec.CABundle
	case spec.CABundleSecretRef != nil:
		ref := spec.CABundleSecretRef
		secret, err := signer.ReadSecret(ctx, s.reader, req.ResourceNamespace, ref.Name, "spec.venafi.tpp.caBundleSecretRef.name")
		if err != nil {
			return nil, err
		}
		key := ref.Key
		if key == "" {
			key = cmmeta.TLSCAKey
		}
		bundle = secret.Data[key]
		source = "key " + key + " of Secret " + req.ResourceNamespace + "/" + ref.Name
		if len(bundle) == 0 {
			return nil, signer.Pending(signer.ReasonSecretInvalidData, "%s named by spec.venafi.tpp.caBundleSecretRef is empty or missing", source)
		}
	default:
		return s.rootCAs, nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(bundle) {
		return nil, signer.Pending(ReasonErrorVenafiInit, "%s: %s holds no PEM certificate", issuerName(req.Issuer), source)
	}
	return pool, nil
}

func (s *Signer) openCloud(ctx context.Context, req signer.Request, spec *cmapi.VenafiIssuer) (*session, error) {
	ns, ref := req.ResourceNamespace, spec.Cloud.APITokenSecretRef
	secret, err := signer.ReadSecret(ctx, s.reader, ns, ref.Name, "spec.venafi.cloud.apiTokenSecretRef.name")
	if err != nil {
		return nil, err
	}
	key := ref.Key
	if key == "" {
		key = defaultCloudAPIKey
	}
	apiKey := string(secret.Data[key])
	if apiKey == "" {
		return nil, signer.Pending(signer.ReasonSecretInvalidData, "Secret %s/%s named by spec.venafi.cloud.apiTokenSecretRef has no %s", ns, secret.Name, key)
	}
	url := spec.Cloud.URL
	conn, err := cloud.NewConnector(url, spec.Zone, false, nil)
	if err != nil {
		return nil, signer.Pending(ReasonErrorVenafiInit, "%s: spec.venafi.cloud.url %q is not usable", issuerName(req.Issuer), url)
	}
	if url == "" {
		url = defaultCloudURL
	}
	httpClient, rec := s.httpClient(ctx, s.rootCAs, tls.RenegotiateNever)
	conn.SetHTTPClient(httpClient)
	conn.SetUserAgent(s.userAgent)
	sess := &session{
		service: serviceCloud, url: url, zone: spec.Zone, issuer: issuerName(req.Issuer),
		credentials: "Secret " + ns + "/" + secret.Name, conn: conn, rec: rec, secrets: []string{apiKey},
	}
	sess.rec.reset()
	if _, err := call(func() (struct{}, error) {
		return struct{}{}, conn.Authenticate(&endpoint.Authentication{APIKey: apiKey})
	}); err != nil {
		return nil, sess.failure(stepLogin, "authenticating with the API key", err)
	}
	return sess, nil
}

// httpClient returns the HTTP client vcert uses for one Sign: its requests end when ctx does
// (vcert's own calls take no context) and each is recorded for classifying failures.
func (s *Signer) httpClient(ctx context.Context, roots *x509.CertPool, renegotiation tls.RenegotiationSupport) (*http.Client, *recorder) {
	transport := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots, Renegotiation: renegotiation},
		TLSHandshakeTimeout: 10 * time.Second,
		// The client lives for one Sign; kept-alive connections would outlive it unused.
		DisableKeepAlives: true,
	}
	rec := &recorder{ctx: ctx, next: transport, timeout: s.httpTimeout}
	return &http.Client{Transport: rec}, rec
}
