package venafi

import (
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// CloudOptions configure a Venafi Cloud stand-in.
type CloudOptions struct {
	// APIKey is the key the tppl-api-key header must carry.
	APIKey string
	// Zone is `<application>\<issuing template alias>`, as an issuer's spec.venafi.zone names
	// it; `Kubernetes\Server` when empty.
	Zone string
	// Behaviour is how the server answers until SetBehaviour changes it.
	Behaviour Behaviour
	// OnRetrieve, when set, is called at every status check of a known certificate request
	// before it is answered.
	OnRetrieve func(Enrollment)
	// TLS, when set, is the serving certificate; otherwise httptest's own is used.
	TLS *LoopbackTLS
}

// Cloud is a stand-in for Venafi Cloud's REST API, speaking what vcert's Cloud connector sends
// with an API key (header tppl-api-key):
//
//   - GET v1/useraccounts to authenticate;
//   - GET outagedetection/v1/applications/name/{app} and
//     outagedetection/v1/applications/{app}/certificateissuingtemplates/{alias} for the zone;
//   - POST outagedetection/v1/certificaterequests (201 with the request ID);
//   - GET outagedetection/v1/certificaterequests/{id}, answering status PENDING, FAILED with
//     errorInformation, or ISSUED with certificateIds;
//   - GET outagedetection/v1/certificates/{id}/contents?chainOrder=...&format=PEM.
type Cloud struct {
	srv               *httptest.Server
	opts              CloudOptions
	app, alias        string
	appID, templateID string
	companyID, userID string
	book              *book
	mu                sync.Mutex
	certs             map[string]string // certificate ID → pickup ID
	certIDs           map[string]string // pickup ID → certificate ID
}

// NewCloud starts a Venafi Cloud stand-in on 127.0.0.1 and stops it when the test ends.
func NewCloud(t testing.TB, opts CloudOptions) *Cloud {
	t.Helper()
	if opts.Zone == "" {
		opts.Zone = `Kubernetes\Server`
	}
	app, alias, ok := strings.Cut(opts.Zone, `\`)
	if !ok || app == "" || alias == "" || strings.Contains(alias, `\`) {
		t.Fatalf(`Cloud zone %q is not <application>\<template alias>`, opts.Zone)
	}
	b, err := newBook("Venafi Cloud test", opts.Behaviour, opts.OnRetrieve)
	if err != nil {
		t.Fatalf("creating the Cloud test CA: %v", err)
	}
	s := &Cloud{
		opts: opts, app: app, alias: alias, appID: newID(), templateID: newID(), companyID: newID(), userID: newID(),
		book: b, certs: map[string]string{}, certIDs: map[string]string{},
	}
	s.srv = startTLS(http.HandlerFunc(s.serveHTTP), opts.TLS)
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the base URL an issuer's spec.venafi.cloud.url names.
func (s *Cloud) URL() string { return s.srv.URL + "/" }

// Zone is the zone as an issuer's spec.venafi.zone names it.
func (s *Cloud) Zone() string { return s.opts.Zone }

// CABundle is the PEM CA a client must trust to reach the server.
func (s *Cloud) CABundle() []byte { return caBundle(s.srv, s.opts.TLS) }

// RootCA is the root the issued chains lead to.
func (s *Cloud) RootCA() *x509.Certificate { return s.book.ca.root.Cert }

// SetBehaviour changes how the server answers from now on.
func (s *Cloud) SetBehaviour(b Behaviour) { s.book.setBehaviour(b) }

// Enrollments returns every certificate request received, in order.
func (s *Cloud) Enrollments() []Enrollment { return s.book.list() }

// EnrollmentFor returns the latest certificate request of the PEM CSR.
func (s *Cloud) EnrollmentFor(csrPEM []byte) (Enrollment, bool) { return s.book.enrollmentFor(csrPEM) }

// RequestsFor counts the certificate requests that carried the PEM CSR.
func (s *Cloud) RequestsFor(csrPEM []byte) int { return s.book.requestsFor(csrPEM) }

// cloudErrors is Venafi Cloud's error body.
func cloudErrors(code int, message string) map[string]any {
	return map[string]any{"errors": []map[string]any{{"code": code, "message": message, "args": []string{}}}}
}

func (s *Cloud) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if s.book.currentBehaviour().Fail {
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	if s.opts.APIKey == "" || r.Header.Get("tppl-api-key") != s.opts.APIKey {
		writeJSON(w, http.StatusUnauthorized, cloudErrors(10501, "Invalid or missing API key"))
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/")
	const od = "outagedetection/v1/"
	switch {
	case r.Method == http.MethodGet && path == "v1/useraccounts":
		s.userAccount(w)
	case r.Method == http.MethodGet && strings.HasPrefix(path, od+"applications/name/"):
		s.application(w, strings.TrimPrefix(path, od+"applications/name/"))
	case r.Method == http.MethodGet && strings.HasPrefix(path, od+"applications/") && strings.Contains(path, "/certificateissuingtemplates/"):
		app, alias, _ := strings.Cut(strings.TrimPrefix(path, od+"applications/"), "/certificateissuingtemplates/")
		s.template(w, app, alias)
	case r.Method == http.MethodPost && path == od+"certificaterequests":
		s.request(w, r)
	case r.Method == http.MethodGet && strings.HasPrefix(path, od+"certificaterequests/"):
		s.status(w, strings.TrimPrefix(path, od+"certificaterequests/"))
	case r.Method == http.MethodGet && strings.HasPrefix(path, od+"certificates/") && strings.HasSuffix(path, "/contents"):
		s.contents(w, r, strings.TrimSuffix(strings.TrimPrefix(path, od+"certificates/"), "/contents"))
	default:
		writeJSON(w, http.StatusNotFound, cloudErrors(10000, "Not found: "+r.Method+" "+path))
	}
}

func (s *Cloud) userAccount(w http.ResponseWriter) {
	created := time.Now().Add(-24 * time.Hour).UTC().Format(time.RFC3339)
	// The real answer also describes the key; its value is never echoed here.
	writeJSON(w, http.StatusOK, map[string]any{
		"user": map[string]any{
			"username": "kubernetes@example.com", "id": s.userID, "companyId": s.companyID, "emailAddress": "kubernetes@example.com",
			"userType": "EXTERNAL", "userAccountType": "API", "userStatus": "ACTIVE", "creationDate": created,
		},
		"company": map[string]any{
			"id": s.companyID, "name": "Example", "companyType": "TPP_CUSTOMER", "active": true, "creationDate": created,
			"domains": []string{"example.com"},
		},
		"apiKey": map[string]any{
			"userId": s.userID, "username": "kubernetes@example.com", "companyId": s.companyID, "apitypes": []string{"ALL"},
			"apiVersion": "ALL", "apiKeyStatus": "ACTIVE", "creationDate": created,
		},
	})
}

func (s *Cloud) application(w http.ResponseWriter, name string) {
	if name != s.app {
		writeJSON(w, http.StatusNotFound, cloudErrors(10051, "Unable to find application "+name))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id": s.appID, "companyId": s.companyID, "name": s.app,
		"certificateIssuingTemplateAliasIdMap": map[string]string{s.alias: s.templateID},
		"ownerIdsAndTypes":                     []map[string]string{{"ownerId": s.userID, "ownerType": "USER"}},
	})
}

// template answers with an issuing template that allows any subject, SAN and key, and uploaded
// CSRs.
func (s *Cloud) template(w http.ResponseWriter, app, alias string) {
	if app != s.app || alias != s.alias {
		writeJSON(w, http.StatusNotFound, cloudErrors(10051, "Unable to find certificate issuing template "+alias+" of application "+app))
		return
	}
	all := []string{".*"}
	writeJSON(w, http.StatusOK, map[string]any{
		"id": s.templateID, "companyId": s.companyID, "name": s.alias, "certificateAuthority": "BUILTIN",
		"certificateAuthorityAccountId": newID(), "certificateAuthorityProductOptionId": newID(),
		"product": map[string]string{"certificateAuthority": "BUILTIN", "productName": "Default Product"},
		"status":  "AVAILABLE", "reason": "",
		"subjectCNRegexes": all, "subjectORegexes": all, "subjectOURegexes": all, "subjectSTRegexes": all,
		"subjectLRegexes": all, "subjectCValues": all, "sanRegexes": all, "sanRfc822NameRegexes": all,
		"sanIpAddressRegexes": all, "sanUniformResourceIdentifierRegexes": all,
		"keyTypes": []map[string]any{
			{"keyType": "RSA", "keyLengths": []int{2048, 3072, 4096}},
			{"keyType": "EC", "keyCurves": []string{"P256", "P384", "P521", "ED25519"}},
		},
		"keyReuse": true, "validityPeriod": "P365D", "csrUploadAllowed": true, "keyGeneratedByVenafiAllowed": false,
	})
}

// cloudRequest is the body of POST outagedetection/v1/certificaterequests, as far as the
// server looks at it.
type cloudRequest struct {
	CSR                  string `json:"certificateSigningRequest"`
	ApplicationID        string `json:"applicationId"`
	TemplateID           string `json:"certificateIssuingTemplateId"`
	ValidityPeriod       string `json:"validityPeriod"`
	ApiClientInformation struct {
		Type string `json:"type"`
	} `json:"apiClientInformation"`
}

func (s *Cloud) request(w http.ResponseWriter, r *http.Request) {
	var body cloudRequest
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, cloudErrors(10100, "Malformed request: "+err.Error()))
		return
	}
	if msg := s.book.currentBehaviour().RefuseRequests; msg != "" {
		writeJSON(w, http.StatusBadRequest, cloudErrors(10712, msg))
		return
	}
	if body.ApplicationID != s.appID || body.TemplateID != s.templateID {
		writeJSON(w, http.StatusBadRequest, cloudErrors(10051, "Unknown application or certificate issuing template"))
		return
	}
	csr, err := parseCSR([]byte(body.CSR))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, cloudErrors(10705, "Invalid certificate signing request: "+err.Error()))
		return
	}
	e := Enrollment{PickupID: newID(), CSR: []byte(body.CSR), Origin: body.ApiClientInformation.Type, RawValidity: body.ValidityPeriod}
	if body.ValidityPeriod != "" {
		d, err := parsePeriod(body.ValidityPeriod)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, cloudErrors(10706, "Invalid validityPeriod: "+err.Error()))
			return
		}
		e.RequestedValidity = d
	}
	s.book.enroll(e)
	writeJSON(w, http.StatusCreated, map[string]any{"certificateRequests": []map[string]any{{
		"id": e.PickupID, "applicationId": s.appID, "certificateIssuingTemplateId": s.templateID, "status": "REQUESTED",
		"subjectDN": csr.Subject.String(), "creationDate": time.Now().UTC().Format(time.RFC3339), "certificateIds": []string{},
	}}})
}

// parsePeriod reads the ISO 8601 time-only periods vcert sends ("PT2160H0M0S").
func parsePeriod(p string) (time.Duration, error) {
	rest, ok := strings.CutPrefix(p, "PT")
	if !ok {
		return 0, &time.ParseError{Layout: "PT<h>H<m>M<s>S", Value: p}
	}
	return time.ParseDuration(strings.ToLower(rest))
}

func (s *Cloud) status(w http.ResponseWriter, id string) {
	result, e, err := s.book.retrieve(id)
	base := map[string]any{"id": id, "applicationId": s.appID, "certificateIssuingTemplateId": s.templateID, "certificateSigningRequest": string(e.CSR)}
	switch {
	case err != nil:
		writeJSON(w, http.StatusInternalServerError, cloudErrors(10999, "Issuing CA failed: "+err.Error()))
	case result == outcomeUnknown:
		writeJSON(w, http.StatusNotFound, cloudErrors(10727, "Certificate request "+id+" not found"))
	case result == outcomePending:
		base["status"] = "PENDING"
		writeJSON(w, http.StatusOK, base)
	case result == outcomeRejected:
		base["status"] = "FAILED"
		base["errorInformation"] = map[string]any{"type": "CERTIFICATE_REQUEST_REJECTED", "code": 10736, "message": e.Rejection, "args": []string{}}
		writeJSON(w, http.StatusOK, base)
	default:
		base["status"] = "ISSUED"
		base["certificateIds"] = []string{s.certificateID(id)}
		writeJSON(w, http.StatusOK, base)
	}
}

func (s *Cloud) certificateID(pickupID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.certIDs[pickupID]; ok {
		return id
	}
	id := newID()
	s.certIDs[pickupID], s.certs[id] = id, pickupID
	return id
}

func (s *Cloud) contents(w http.ResponseWriter, r *http.Request, certID string) {
	s.mu.Lock()
	pickupID, ok := s.certs[certID]
	s.mu.Unlock()
	e, found := s.book.get(pickupID)
	if !ok || !found || e.Issued == nil {
		writeJSON(w, http.StatusNotFound, cloudErrors(10728, "Certificate "+certID+" not found"))
		return
	}
	if f := r.URL.Query().Get("format"); f != "" && f != "PEM" {
		writeJSON(w, http.StatusBadRequest, cloudErrors(10100, "Unsupported format "+f))
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write(chainInOrder(e.Issued, true, r.URL.Query().Get("chainOrder") == "ROOT_FIRST"))
}
