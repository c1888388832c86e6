package venafi

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TPPOptions configure a TPP stand-in.
type TPPOptions struct {
	// Zone is the policy folder certificates are requested in, as an issuer's spec.venafi.zone
	// names it ("Kubernetes" or `\VED\Policy\Kubernetes`); "Kubernetes" when empty.
	Zone string
	// Username and Password are the credentials vedauth/authorize/oauth accepts.
	Username, Password string
	// AccessToken is a bearer token accepted as if issued earlier, for issuers configured with
	// an access-token rather than a username and password.
	AccessToken string
	// Behaviour is how the server answers until SetBehaviour changes it.
	Behaviour Behaviour
	// OnRetrieve, when set, is called at every retrieve of a known enrollment before it is
	// answered: tests use it to look at the CSR object at that moment.
	OnRetrieve func(Enrollment)
	// TLS, when set, is the serving certificate; otherwise httptest's own is used.
	TLS *LoopbackTLS
}

// Grant records one OAuth token request.
type Grant struct {
	ClientID, Scope string
}

// TPP is a stand-in for Venafi TLS Protect Datacenter's WebSDK, speaking what vcert's TPP
// connector sends:
//
//   - POST vedauth/authorize/oauth (username/password → token), GET vedauth/authorize/verify
//     (access-token check) and GET vedsdk/Identity/Self, with "Authorization: Bearer";
//   - POST vedsdk/certificates/checkpolicy for the zone configuration;
//   - POST vedsdk/certificates/reset, vedsdk/certificates/request and vedsdk/metadata/get;
//   - POST vedsdk/certificates/retrieve, answering 202 while pending, 200 with the base64 PEM
//     chain once issued, and, for a rejected enrollment, 500 with the error in the reason
//     phrase as TPP does ("Certificate ... has encountered an error while processing, Status:
//     ..., Stage: ...").
type TPP struct {
	srv    *httptest.Server
	opts   TPPOptions
	zoneDN string
	book   *book

	mu     sync.Mutex
	tokens map[string]bool
	grants []Grant
}

// NewTPP starts a TPP stand-in on 127.0.0.1 and stops it when the test ends.
func NewTPP(t testing.TB, opts TPPOptions) *TPP {
	t.Helper()
	if opts.Zone == "" {
		opts.Zone = "Kubernetes"
	}
	b, err := newBook("Venafi TPP test", opts.Behaviour, opts.OnRetrieve)
	if err != nil {
		t.Fatalf("creating the TPP test CA: %v", err)
	}
	s := &TPP{opts: opts, zoneDN: policyDN(opts.Zone), book: b, tokens: map[string]bool{}}
	if opts.AccessToken != "" {
		s.tokens[opts.AccessToken] = true
	}
	s.srv = startTLS(http.HandlerFunc(s.serveHTTP), opts.TLS)
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the WebSDK URL an issuer's spec.venafi.tpp.url names.
func (s *TPP) URL() string { return s.srv.URL + "/vedsdk" }

// Zone is the zone as an issuer's spec.venafi.zone names it.
func (s *TPP) Zone() string { return s.opts.Zone }

// CABundle is the PEM CA an issuer's spec.venafi.tpp.caBundle must hold to trust the server.
func (s *TPP) CABundle() []byte { return caBundle(s.srv, s.opts.TLS) }

// RootCA is the root the issued chains lead to.
func (s *TPP) RootCA() *x509.Certificate { return s.book.ca.root.Cert }

// SetBehaviour changes how the server answers from now on.
func (s *TPP) SetBehaviour(b Behaviour) { s.book.setBehaviour(b) }

// Enrollments returns every enrollment, in the order requested.
func (s *TPP) Enrollments() []Enrollment { return s.book.list() }

// EnrollmentFor returns the latest enrollment of the PEM CSR.
func (s *TPP) EnrollmentFor(csrPEM []byte) (Enrollment, bool) { return s.book.enrollmentFor(csrPEM) }

// RequestsFor counts the certificate requests that carried the PEM CSR.
func (s *TPP) RequestsFor(csrPEM []byte) int { return s.book.requestsFor(csrPEM) }

// Grants returns the OAuth token requests that succeeded.
func (s *TPP) Grants() []Grant {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.grants)
}

// policyDN turns a zone into a policy DN the way vcert does.
func policyDN(zone string) string {
	if strings.HasPrefix(zone, `\VED\Policy`) {
		return zone
	}
	if !strings.HasPrefix(zone, `\`) {
		zone = `\` + zone
	}
	return `\VED\Policy` + zone
}

func (s *TPP) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if s.book.currentBehaviour().Fail {
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	// IIS matches paths case-insensitively; vcert itself mixes cases (Identity/Self).
	path := strings.ToLower(strings.TrimPrefix(r.URL.Path, "/"))
	switch {
	case r.Method == http.MethodPost && path == "vedauth/authorize/oauth":
		s.oauth(w, r)
	case r.Method == http.MethodGet && path == "vedauth/authorize/verify":
		s.verify(w, r)
	case !strings.HasPrefix(path, "vedsdk/"):
		http.NotFound(w, r)
	case !s.authorized(r):
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "Failed to authenticate using the provided credentials"})
	case r.Method == http.MethodGet && path == "vedsdk/identity/self":
		writeJSON(w, http.StatusOK, map[string]any{"Identities": []map[string]any{{
			"FullName": `\VED\Identity\` + s.opts.Username, "Name": s.opts.Username, "Prefix": "local",
			"PrefixedName": "local:" + s.opts.Username, "PrefixedUniversal": "local:{" + newID() + "}", "Type": 1,
			"Universal": "{" + newID() + "}",
		}}})
	case r.Method == http.MethodPost && path == "vedsdk/certificates/checkpolicy":
		s.checkPolicy(w, r)
	case r.Method == http.MethodPost && path == "vedsdk/certificates/reset":
		s.reset(w, r)
	case r.Method == http.MethodPost && path == "vedsdk/certificates/request":
		s.request(w, r)
	case r.Method == http.MethodPost && path == "vedsdk/metadata/get":
		s.metadata(w, r)
	case r.Method == http.MethodPost && path == "vedsdk/certificates/retrieve":
		s.retrieve(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (s *TPP) authorized(r *http.Request) bool {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	defer s.mu.Unlock()
	return ok && s.tokens[token]
}

func (s *TPP) oauth(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ClientID string `json:"client_id"`
		Username string `json:"username"`
		Password string `json:"password"`
		Scope    string `json:"scope"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": err.Error()})
		return
	}
	if s.opts.Username == "" || body.Username != s.opts.Username || body.Password != s.opts.Password {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "Username/password combination not valid"})
		return
	}
	token, refresh := newID(), newID()
	s.mu.Lock()
	s.tokens[token] = true
	s.grants = append(s.grants, Grant{ClientID: body.ClientID, Scope: body.Scope})
	s.mu.Unlock()
	now := time.Now()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": token, "refresh_token": refresh, "expires": now.Add(time.Hour).Unix(), "expires_in": 3600,
		"refresh_until": now.Add(24 * time.Hour).Unix(), "identity": "local:{" + newID() + "}",
		"scope": body.Scope, "token_type": "Bearer",
	})
}

func (s *TPP) verify(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "The access token is not valid"})
		return
	}
	now := time.Now().UTC()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_issued_on_ISO8601": now.Add(-time.Minute).Format(time.RFC3339), "application": "cert-manager.io",
		"expires_ISO8601": now.Add(time.Hour).Format(time.RFC3339), "grant_issued_on_ISO8601": now.Add(-time.Minute).Format(time.RFC3339),
		"identity": "local:{" + newID() + "}", "scope": "certificate:manage", "valid_for": 3600,
	})
}

// checkPolicy answers with an open policy: any subject and SAN, any key, nothing locked, CSRs
// provided by the user.
func (s *TPP) checkPolicy(w http.ResponseWriter, r *http.Request) {
	var body struct{ PolicyDN string }
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"Error": err.Error()})
		return
	}
	if !strings.EqualFold(body.PolicyDN, s.zoneDN) {
		writeJSON(w, http.StatusBadRequest, map[string]any{"Error": "PolicyDN: " + body.PolicyDN + " does not exist"})
		return
	}
	unlocked := map[string]any{"Locked": false, "Value": ""}
	writeJSON(w, http.StatusOK, map[string]any{"Error": nil, "Policy": map[string]any{
		"CertificateAuthority": unlocked,
		"CsrGeneration":        map[string]any{"Locked": false, "Value": "UserProvided"},
		"KeyGeneration":        map[string]any{"Locked": false, "Value": "Central"},
		"KeyPair": map[string]any{
			"KeyAlgorithm":  unlocked,
			"KeySize":       map[string]any{"Locked": false, "Value": 2048},
			"EllipticCurve": unlocked,
		},
		"ManagementType":          map[string]any{"Locked": false, "Value": "Enrollment"},
		"PrivateKeyReuseAllowed":  true,
		"SubjAltNameDnsAllowed":   true,
		"SubjAltNameEmailAllowed": true,
		"SubjAltNameIpAllowed":    true,
		"SubjAltNameUpnAllowed":   true,
		"SubjAltNameUriAllowed":   true,
		"Subject": map[string]any{
			"City": unlocked, "Country": unlocked, "Organization": unlocked, "State": unlocked,
			"OrganizationalUnit": map[string]any{"Locked": false, "Values": []string{}},
		},
		"UniqueSubjectEnforced": false,
		"WhitelistedDomains":    []string{},
		"WildcardsAllowed":      true,
	}})
}

func (s *TPP) reset(w http.ResponseWriter, r *http.Request) {
	var body struct {
		CertificateDN string
		Restart       bool
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"Error": err.Error()})
		return
	}
	exists, wasReset := s.book.reset(body.CertificateDN)
	switch {
	case !exists:
		writeJSON(w, http.StatusBadRequest, map[string]string{"Error": "Certificate " + body.CertificateDN +
			" does not exist or you do not have sufficient rights to the object."})
	case !wasReset:
		writeJSON(w, http.StatusBadRequest, map[string]string{"Error": "Reset is not completed. No reset is required for the certificate."})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"ProcessingResetCompleted": true, "RestartCompleted": body.Restart})
	}
}

// tppRequest is the body of POST vedsdk/certificates/request, as far as the server looks at it.
type tppRequest struct {
	PolicyDN             string
	ObjectName           string
	PKCS10               string
	Origin               string
	CASpecificAttributes []struct{ Name, Value string }
	CustomFields         []struct {
		Name   string
		Values []string
	}
}

func (s *TPP) request(w http.ResponseWriter, r *http.Request) {
	var body tppRequest
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"Error": err.Error()})
		return
	}
	if msg := s.book.currentBehaviour().RefuseRequests; msg != "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"Error": msg})
		return
	}
	if !strings.EqualFold(body.PolicyDN, s.zoneDN) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"Error": "PolicyDN: " + body.PolicyDN + " does not exist"})
		return
	}
	if body.ObjectName == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"Error": "ObjectName or Subject is required"})
		return
	}
	if _, err := parseCSR([]byte(body.PKCS10)); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"Error": "Invalid PKCS10: " + err.Error()})
		return
	}
	e := Enrollment{
		PickupID:   body.PolicyDN + `\` + body.ObjectName,
		CSR:        []byte(body.PKCS10),
		ObjectName: body.ObjectName,
		Origin:     body.Origin,
	}
	for _, f := range body.CustomFields {
		if e.CustomFields == nil {
			e.CustomFields = map[string][]string{}
		}
		e.CustomFields[f.Name] = append(e.CustomFields[f.Name], f.Values...)
	}
	// vcert sends the end date under several CA-specific names; the generic one is always there.
	for _, a := range body.CASpecificAttributes {
		if a.Name != "Specific End Date" {
			continue
		}
		end, err := time.Parse(time.RFC3339, a.Value)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"Error": "Specific End Date: " + err.Error()})
			return
		}
		e.RawValidity = a.Value
		e.RequestedValidity = time.Until(end).Round(time.Second)
	}
	s.book.enroll(e)
	writeJSON(w, http.StatusOK, map[string]string{"CertificateDN": e.PickupID, "Guid": "{" + newID() + "}"})
}

// metadata answers vedsdk/metadata/get with the custom fields stored at request time, which is
// how a TPP of version 19.2 or later keeps them; vcert then has nothing to set afterwards.
func (s *TPP) metadata(w http.ResponseWriter, r *http.Request) {
	var body struct {
		DN string `json:"DN"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"Error": err.Error()})
		return
	}
	e, ok := s.book.get(body.DN)
	if !ok {
		writeJSON(w, http.StatusBadRequest, map[string]string{"Error": body.DN + " does not exist"})
		return
	}
	data := []map[string]any{}
	for name, values := range e.CustomFields {
		data = append(data, map[string]any{"Key": map[string]any{"Label": name, "Name": name, "Guid": "{" + newID() + "}"}, "Value": values})
	}
	writeJSON(w, http.StatusOK, map[string]any{"Data": data, "Locked": false})
}

func (s *TPP) retrieve(w http.ResponseWriter, r *http.Request) {
	var body struct {
		CertificateDN     string
		Format            string
		IncludeChain      bool
		RootFirstOrder    bool
		IncludePrivateKey bool
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"Error": err.Error()})
		return
	}
	if !strings.EqualFold(body.Format, "base64") || body.IncludePrivateKey {
		writeJSON(w, http.StatusBadRequest, map[string]string{"Error": "only the base64 format without private key is served for user-provided CSRs"})
		return
	}
	result, e, err := s.book.retrieve(body.CertificateDN)
	switch {
	case err != nil:
		writeJSON(w, http.StatusInternalServerError, map[string]any{"Stage": 500, "Status": "Issuing CA failed: " + err.Error()})
	case result == outcomeUnknown:
		writeJSONWithReason(w, http.StatusBadRequest, "Certificate "+body.CertificateDN+" does not exist.",
			map[string]string{"Error": "Certificate " + body.CertificateDN + " does not exist."})
	case result == outcomePending:
		writeJSON(w, http.StatusAccepted, map[string]any{"Stage": 500, "Status": "Post CSR"})
	case result == outcomeRejected:
		msg := e.Rejection
		writeJSONWithReason(w, http.StatusInternalServerError,
			fmt.Sprintf("Certificate %s has encountered an error while processing, Status: %s, Stage: 500.", body.CertificateDN, msg),
			map[string]any{"Stage": 500, "Status": msg})
	default:
		data := chainInOrder(e.Issued, body.IncludeChain, body.RootFirstOrder)
		writeJSON(w, http.StatusOK, map[string]string{
			"CertificateData": base64.StdEncoding.EncodeToString(data), "Filename": e.ObjectName + ".cer", "Format": "Base64",
		})
	}
}
