package venafi

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Venafi/vcert/v5/pkg/verror"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// vcert reports most failures as formatted strings, and the HTTP status and the service's own
// message are what tell a refused credential from a refused request from a service in trouble.
// So every HTTP exchange vcert makes goes through a recorder, and a failed call is classified by
// the exchange it ended with rather than by parsing vcert's wording.

// exchange is one HTTP round trip, as far as classifying a failure needs it.
type exchange struct {
	path   string
	status int // 0 when no response came back
	// reason is the status line's text after the code. TPP (IIS) puts its error messages
	// there, e.g. "Certificate \VED\Policy\... has encountered an error while processing".
	reason string
	// body is the start of the response body, kept only for endpoints whose bodies carry no
	// credentials (see keepsBody).
	body []byte
	// err is the transport's error when no response came back. vcert flattens some of these
	// into text (%v), so the original is kept here to be recognised.
	err error
}

// maxKeptBody bounds how much of a response body is kept; error documents are far smaller.
const maxKeptBody = 16 << 10

// recorder is the http.RoundTripper of one session. It ties every request to the Sign call's
// context, applies the per-request timeout (which a replaced context would otherwise lose), and
// remembers the last exchange.
type recorder struct {
	ctx     context.Context
	next    http.RoundTripper
	timeout time.Duration

	mu   sync.Mutex
	last *exchange
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(r.ctx, r.timeout)
	resp, err := r.next.RoundTrip(req.WithContext(ctx))
	ex := &exchange{path: req.URL.Path, err: err}
	if err != nil {
		cancel()
		r.store(ex)
		return nil, err
	}
	ex.status = resp.StatusCode
	ex.reason = strings.TrimSpace(strings.TrimPrefix(resp.Status, strconv.Itoa(resp.StatusCode)))
	body := io.ReadCloser(resp.Body)
	if keepsBody(req.URL.Path) {
		ex.body, body = peek(resp.Body)
	}
	// The deadline has to outlive RoundTrip until vcert has read the body, which it always
	// closes.
	resp.Body = &cancelOnClose{ReadCloser: body, cancel: cancel}
	r.store(ex)
	return resp, nil
}

func (r *recorder) store(ex *exchange) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = ex
}

// reset forgets the last exchange, so that a failure without any HTTP exchange (vcert checking
// something locally) is not blamed on an earlier call's response.
func (r *recorder) reset() { r.store(nil) }

func (r *recorder) lastExchange() *exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// keepsBody reports whether a response body may be kept: only certificate request, retrieve,
// policy and application endpoints, whose answers never hold credentials. The bodies of the
// login endpoints hold tokens and are never looked at.
func keepsBody(path string) bool {
	p := strings.ToLower(path)
	for _, suffix := range []string{"vedsdk/certificates/request", "vedsdk/certificates/retrieve", "vedsdk/certificates/reset", "vedsdk/certificates/checkpolicy"} {
		if strings.HasSuffix(p, suffix) {
			return true
		}
	}
	return strings.Contains(p, "outagedetection/v1/certificaterequests") || strings.Contains(p, "outagedetection/v1/applications/")
}

// peek reads the start of body and returns it with a reader that still yields all of it.
func peek(body io.ReadCloser) ([]byte, io.ReadCloser) {
	head, _ := io.ReadAll(io.LimitReader(body, maxKeptBody))
	return head, struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), body), body}
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	defer c.cancel()
	return c.ReadCloser.Close()
}

// step is the part of the exchange with the service a failure happened in.
type step int

const (
	stepLogin step = iota
	stepZone
	stepRequest
	stepRetrieve
)

// failure turns the error of a vcert call into what the controller acts on:
//
//   - a TLS certificate that is not trusted, or no login endpoint at the URL: pending
//     ErrorVenafiInit, the issuer needs fixing;
//   - 401 or 403 anywhere, or any 4xx while logging in: the credentials were refused, pending
//     ErrorLogin until the Secret is fixed;
//   - an unknown zone or another 4xx while reading it: pending ErrorVenafiInit, the issuer
//     needs fixing;
//   - a 4xx to the request: the service refused this CSR, permanent ErrorRequest;
//   - at retrieval, the service reporting a failed enrollment: permanent Rejected; a 4xx
//     otherwise (the pickup ID is unknown): permanent ErrorRetrieve; a certificate for another
//     key: permanent ErrorKeyMatch;
//   - anything else (no answer, 5xx): a plain error, retried with backoff.
//
// Messages name the service, the issuer and the credentials' Secret, never their values; every
// text that came from vcert or the service is scrubbed of the session's secrets first.
func (sess *session) failure(st step, doing string, err error) error {
	ex := sess.rec.lastExchange()
	status := 0
	if ex != nil {
		status = ex.status
	}
	clientError := status >= 400 && status < 500
	var untrusted *tls.CertificateVerificationError
	switch {
	case ex != nil && errors.As(ex.err, &untrusted):
		return signer.Pending(ReasonErrorVenafiInit, "%s at %s presents a TLS certificate that %s does not trust (%s); %s",
			sess.service, sess.url, sess.issuer, sess.redact(untrusted.Err.Error()), sess.trustHint())
	case st == stepLogin && status == http.StatusNotFound:
		return signer.Pending(ReasonErrorVenafiInit, "%s at %s has no login endpoint (HTTP 404); check the URL in %s",
			sess.service, sess.url, sess.issuer)
	case status == http.StatusUnauthorized || status == http.StatusForbidden || (st == stepLogin && clientError):
		return signer.Pending(ReasonErrorLogin, "%s at %s refused the credentials in %s for %s (%s): %s",
			sess.service, sess.url, sess.credentials, sess.issuer, doing, sess.redact(ex.serviceMessage()))
	case st == stepZone && (errors.Is(err, verror.ZoneNotFoundError) || errors.Is(err, verror.ApplicationNotFoundError)):
		return signer.Pending(ReasonErrorVenafiInit, "%s at %s has no zone %q, named by spec.venafi.zone of %s",
			sess.service, sess.url, sess.zone, sess.issuer)
	case st == stepZone && clientError:
		return signer.Pending(ReasonErrorVenafiInit, "%s at %s cannot serve zone %q of %s: %s",
			sess.service, sess.url, sess.zone, sess.issuer, sess.redact(ex.serviceMessage()))
	case st == stepRequest && clientError:
		return signer.Permanent(ReasonErrorRequest, "%s at %s refused %s in zone %q: %s",
			sess.service, sess.url, doing, sess.zone, sess.redact(ex.serviceMessage()))
	case st == stepRetrieve:
		if msg, rejected := ex.rejection(); rejected {
			return signer.Permanent(ReasonRejected, "%s at %s rejected the certificate request: %s", sess.service, sess.url, sess.redact(msg))
		}
		if errors.Is(err, verror.CertificateCheckError) {
			return signer.Permanent(ReasonErrorKeyMatch, "%s at %s returned a certificate that does not match the CSR: %s",
				sess.service, sess.url, sess.redact(err.Error()))
		}
		if clientError {
			return signer.Permanent(ReasonErrorRetrieve, "%s at %s cannot return the certificate while %s: %s",
				sess.service, sess.url, doing, sess.redact(ex.serviceMessage()))
		}
	}
	// The vcert error is not wrapped: its text, unscrubbed, would come back with Error().
	return fmt.Errorf("%s at %s for %s: %s: %s", sess.service, sess.url, sess.issuer, doing, sess.redact(err.Error()))
}

// trustHint says where the CA bundle of the service comes from.
func (sess *session) trustHint() string {
	if sess.tpp != nil {
		return "set spec.venafi.tpp.caBundle or caBundleSecretRef to the CA that signed it"
	}
	return "Venafi Cloud issuers trust the operator's root CAs"
}

// serviceMessage is what the service said about a failed exchange: TPP's "Error" field, Venafi
// Cloud's error list, else the status line.
func (ex *exchange) serviceMessage() string {
	if ex == nil {
		return "no answer"
	}
	var body struct {
		Error  string `json:"Error"`
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	line := strings.TrimSpace(fmt.Sprintf("HTTP %d %s", ex.status, ex.reason))
	if json.Unmarshal(ex.body, &body) != nil {
		return bounded(line)
	}
	if body.Error != "" {
		return bounded(line + ": " + body.Error)
	}
	var msgs []string
	for _, e := range body.Errors {
		if e.Message != "" {
			msgs = append(msgs, e.Message)
		}
	}
	if len(msgs) > 0 {
		return bounded(line + ": " + strings.Join(msgs, "; "))
	}
	return bounded(line)
}

// rejection reports whether the exchange is the service saying that the enrollment failed, and
// with which message:
//
//   - TPP answers a retrieve of a certificate in an error state with an error status whose
//     JSON body carries the processing "Status" (and "Stage");
//   - Venafi Cloud answers the status of a certificate request with status FAILED and an
//     errorInformation message.
//
// A 500 without such a body is the service in trouble, not a verdict, and is retried.
func (ex *exchange) rejection() (string, bool) {
	if ex == nil || len(ex.body) == 0 {
		return "", false
	}
	path := strings.ToLower(ex.path)
	switch {
	case strings.HasSuffix(path, "vedsdk/certificates/retrieve") && ex.status >= 400:
		var body struct {
			Stage  int    `json:"Stage"`
			Status string `json:"Status"`
		}
		if json.Unmarshal(ex.body, &body) != nil || body.Status == "" {
			return "", false
		}
		return bounded(fmt.Sprintf("%s (stage %d)", body.Status, body.Stage)), true
	case strings.Contains(path, "outagedetection/v1/certificaterequests/") && ex.status == http.StatusOK:
		var body struct {
			Status           string `json:"status"`
			ErrorInformation struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"errorInformation"`
		}
		if json.Unmarshal(ex.body, &body) != nil || body.Status != "FAILED" {
			return "", false
		}
		return bounded(cmp.Or(body.ErrorInformation.Message, "request status FAILED")), true
	}
	return "", false
}

// maxMessage bounds what is quoted from a service; conditions and events are short by nature.
const maxMessage = 512

func bounded(s string) string {
	if len(s) <= maxMessage {
		return s
	}
	return s[:maxMessage] + "…"
}

// redact replaces every credential value of the session in s. The service or vcert should never
// echo one, but a message that reaches events, conditions and logs is checked regardless.
func (sess *session) redact(s string) string {
	secrets := slices.Clone(sess.secrets)
	// Longest first, so a secret that contains another is replaced whole.
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	for _, secret := range secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return s
}

// call runs a vcert call, turning a panic into an error: vcert panics on some answers it does
// not expect (an unknown key type in a zone, for one), and a service's answer must not take the
// reconcile down with it.
func call[T any](f func() (T, error)) (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("vcert failed on an unexpected answer: %v", r)
		}
	}()
	return f()
}
