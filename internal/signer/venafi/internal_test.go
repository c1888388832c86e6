package venafi

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/Venafi/vcert/v5/pkg/certificate"
	"github.com/Venafi/vcert/v5/pkg/verror"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

func TestRedactScrubsEveryCredential(t *testing.T) {
	sess := &session{secrets: []string{"", "tok", "token-with-tok-inside", "p@ss"}}
	got := sess.redact("refused token-with-tok-inside and tok and p@ss")
	if want := "refused [redacted] and [redacted] and [redacted]"; got != want {
		t.Errorf("redact = %q, want %q", got, want)
	}
}

func TestRejectionIsReadFromTheServiceAnswer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ex     *exchange
		want   string
		reject bool
	}{
		{"TPP error state", &exchange{path: "/vedsdk/certificates/retrieve", status: 500, body: []byte(`{"Stage":500,"Status":"CA said no"}`)}, "CA said no (stage 500)", true},
		{"TPP plain 500", &exchange{path: "/vedsdk/certificates/retrieve", status: 500, body: []byte(`Internal Server Error`)}, "", false},
		{"TPP pending", &exchange{path: "/vedsdk/certificates/retrieve", status: 202, body: []byte(`{"Stage":500,"Status":"Post CSR"}`)}, "", false},
		{"Cloud failed", &exchange{path: "/outagedetection/v1/certificaterequests/abc", status: 200,
			body: []byte(`{"status":"FAILED","errorInformation":{"code":1,"message":"declined"}}`)}, "declined", true},
		{"Cloud failed without message", &exchange{path: "/outagedetection/v1/certificaterequests/abc", status: 200, body: []byte(`{"status":"FAILED"}`)},
			"request status FAILED", true},
		{"Cloud pending", &exchange{path: "/outagedetection/v1/certificaterequests/abc", status: 200, body: []byte(`{"status":"PENDING"}`)}, "", false},
		{"no exchange", nil, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.ex.rejection()
			if ok != tc.reject || got != tc.want {
				t.Errorf("rejection() = %q, %v; want %q, %v", got, ok, tc.want, tc.reject)
			}
		})
	}
}

func TestServiceMessage(t *testing.T) {
	for _, tc := range []struct {
		ex   *exchange
		want string
	}{
		{&exchange{status: 400, reason: "Bad Request", body: []byte(`{"Error":"PolicyDN x does not exist"}`)}, "HTTP 400 Bad Request: PolicyDN x does not exist"},
		{&exchange{status: 400, reason: "Bad Request", body: []byte(`{"errors":[{"code":1,"message":"a"},{"message":"b"}]}`)}, "HTTP 400 Bad Request: a; b"},
		{&exchange{status: 401, reason: "Unauthorized"}, "HTTP 401 Unauthorized"},
		{&exchange{status: 400, reason: strings.Repeat("x", 2*maxMessage)}, "HTTP 400 " + strings.Repeat("x", maxMessage-len("HTTP 400 ")) + "…"},
		{nil, "no answer"},
	} {
		if got := tc.ex.serviceMessage(); got != tc.want {
			t.Errorf("serviceMessage() = %q, want %q", got, tc.want)
		}
	}
}

func TestKeepsBodyOnlyOfCredentialFreeEndpoints(t *testing.T) {
	for path, want := range map[string]bool{
		"/vedsdk/certificates/retrieve":                  true,
		"/vedsdk/Certificates/Request":                   true,
		"/outagedetection/v1/certificaterequests/123":    true,
		"/outagedetection/v1/applications/name/app":      true,
		"/vedauth/authorize/oauth":                       false,
		"/vedauth/authorize/verify":                      false,
		"/vedsdk/Identity/Self":                          false,
		"/v1/useraccounts":                               false,
		"/outagedetection/v1/certificates/123/contents":  false,
		"/vedsdk/certificates/retrieve/../../vedauth/tk": false,
	} {
		if got := keepsBody(path); got != want {
			t.Errorf("keepsBody(%q) = %v, want %v", path, got, want)
		}
	}
}

func TestVerifiedChainRefusesAnotherKey(t *testing.T) {
	ca := testpki.NewRootCA(t, testpki.ECDSA, "Test CA")
	csrKey, otherKey := testpki.NewKey(t, testpki.ECDSA), testpki.NewKey(t, testpki.ECDSA)
	parsed := testpki.ParseRequest(t, testpki.RequestPEM(t, csrKey, nil))
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "test"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, otherKey.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	leafPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	sess := &session{service: serviceTPP, url: "https://tpp"}
	req := signer.Request{Parsed: parsed}

	_, err = verifiedChain(sess, req, "id", &certificate.PEMCollection{Certificate: leafPEM, Chain: []string{string(ca.CertPEM)}})
	if pe, ok := signer.AsPermanent(err); !ok || pe.Reason != ReasonErrorKeyMatch {
		t.Errorf("certificate for another key: %v, want permanent %s", err, ReasonErrorKeyMatch)
	}
	other := testpki.NewRootCA(t, testpki.ECDSA, "Unrelated CA")
	_, err = verifiedChain(sess, req, "id", &certificate.PEMCollection{Certificate: leafPEM, Chain: []string{string(other.CertPEM)}})
	if pe, ok := signer.AsPermanent(err); !ok || pe.Reason != ReasonErrorParse {
		t.Errorf("broken chain: %v, want permanent %s", err, ReasonErrorParse)
	}
	_, err = verifiedChain(sess, req, "id", &certificate.PEMCollection{})
	if pe, ok := signer.AsPermanent(err); !ok || pe.Reason != ReasonErrorParse {
		t.Errorf("no certificate: %v, want permanent %s", err, ReasonErrorParse)
	}
}

func TestCallTurnsPanicsIntoErrors(t *testing.T) {
	_, err := call(func() (int, error) { panic(errors.New("unknown key type")) })
	if err == nil || !strings.Contains(err.Error(), "unknown key type") {
		t.Errorf("call() = %v, want the panic as an error", err)
	}
}

func FuzzParseCustomFields(f *testing.F) {
	for _, seed := range []string{
		``, `[]`, `null`, `[{"name":"a","value":"b"}]`, `[{"name":"a","value":"b","type":"Plain"}]`,
		`[{"name":"a","value":"b","type":"Bool"}]`, `[{"value":"b"}]`, `[null]`, `{"name":"a"}`, `[{"name":1}]`, `[{"name":"a"}] x`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, annotation string) {
		fields, err := parseCustomFields(annotation)
		if err != nil {
			if fields != nil {
				t.Errorf("fields %v returned with error %v", fields, err)
			}
			return
		}
		for _, field := range fields {
			if field.Name == "" || field.Type != certificate.CustomFieldPlain {
				t.Errorf("accepted field %+v", field)
			}
		}
	})
}

func TestFailureClassification(t *testing.T) {
	plain := errors.New("vcert: something went wrong with s3cret")
	for _, tc := range []struct {
		name string
		st   step
		ex   *exchange
		err  error
		// reason is the pending or permanent reason; empty wants a plain error.
		reason    string
		permanent bool
	}{
		{"login refused", stepLogin, &exchange{status: 400}, plain, ReasonErrorLogin, false},
		{"token expired later", stepRetrieve, &exchange{status: 401}, plain, ReasonErrorLogin, false},
		{"forbidden", stepRequest, &exchange{status: 403}, plain, ReasonErrorLogin, false},
		{"no login endpoint", stepLogin, &exchange{status: 404}, plain, ReasonErrorVenafiInit, false},
		{"login server error", stepLogin, &exchange{status: 500}, plain, "", false},
		{"login without answer", stepLogin, &exchange{err: errors.New("connection refused")}, plain, "", false},
		{"untrusted server", stepLogin, &exchange{err: &tls.CertificateVerificationError{Err: errors.New("unknown authority")}}, plain, ReasonErrorVenafiInit, false},
		{"zone not found", stepZone, &exchange{status: 400}, verror.ZoneNotFoundError, ReasonErrorVenafiInit, false},
		{"zone refused", stepZone, &exchange{status: 400}, plain, ReasonErrorVenafiInit, false},
		{"zone server error", stepZone, &exchange{status: 503}, plain, "", false},
		{"request refused", stepRequest, &exchange{status: 400}, plain, ReasonErrorRequest, true},
		{"request server error", stepRequest, &exchange{status: 500}, plain, "", false},
		{"rejected", stepRetrieve, &exchange{path: "/vedsdk/certificates/retrieve", status: 500, body: []byte(`{"Stage":500,"Status":"no"}`)}, plain, ReasonRejected, true},
		{"wrong key", stepRetrieve, &exchange{status: 200}, fmt.Errorf("%w: unmatched key modulus", verror.CertificateCheckError), ReasonErrorKeyMatch, true},
		{"unknown pickup ID", stepRetrieve, &exchange{status: 400}, plain, ReasonErrorRetrieve, true},
		{"retrieve server error", stepRetrieve, &exchange{status: 500, body: []byte("oops")}, plain, "", false},
		{"local failure", stepRequest, nil, plain, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sess := &session{service: serviceTPP, url: "https://tpp", issuer: `Issuer "a/b"`, credentials: "Secret a/c", rec: &recorder{}, secrets: []string{"s3cret"}}
			sess.rec.store(tc.ex)
			err := sess.failure(tc.st, "doing", tc.err)
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("message shows a credential: %v", err)
			}
			pending, isPending := signer.AsPending(err)
			permanent, isPermanent := signer.AsPermanent(err)
			switch {
			case tc.reason == "":
				if isPending || isPermanent {
					t.Errorf("got %v, want a plain error", err)
				}
			case tc.permanent:
				if !isPermanent || permanent.Reason != tc.reason {
					t.Errorf("got %v, want permanent %s", err, tc.reason)
				}
			default:
				if !isPending || pending.Reason != tc.reason {
					t.Errorf("got %v, want pending %s", err, tc.reason)
				}
			}
		})
	}
}
