package pebble

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Pebble's endpoints for new accounts and new orders.
const (
	newAccountPath = "/sign-me-up"
	newOrderPath   = "/order-plz"
)

// Proxy is a TLS reverse proxy in front of Pebble's ACME endpoint that counts the accounts and
// orders Pebble created, by account key and by identifiers. Pebble builds its URLs from the
// Host header, which the proxy passes on, so every later request comes through it too.
type Proxy struct {
	// URL is the proxy's base URL.
	URL string

	mu          sync.Mutex
	newOrders   map[string]int
	newAccounts map[string]int
	server      *http.Server
}

type countKey struct{}

func startProxy(target string, listener *serverTLS) (*Proxy, error) {
	upstream, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{listener.cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		return nil, err
	}
	p := &Proxy{URL: "https://" + ln.Addr().String(), newOrders: map[string]int{}, newAccounts: map[string]int{}}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(upstream)
			r.Out.Host = r.In.Host
		},
		Transport:      &http.Transport{TLSClientConfig: listener.clientConfig()},
		ModifyResponse: p.count,
	}
	p.server = &http.Server{Handler: p.inspect(rp), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.server.Serve(ln) }()
	return p, nil
}

// inspect notes, for the new-account and new-order requests, what to count if Pebble creates
// the object.
func (p *Proxy) inspect(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && (r.URL.Path == newOrderPath || r.URL.Path == newAccountPath) {
			body, err := io.ReadAll(r.Body)
			if err == nil {
				r.Body = io.NopCloser(bytes.NewReader(body))
				if key := countingKey(r.URL.Path, body); key != "" {
					r = r.WithContext(context.WithValue(r.Context(), countKey{}, key))
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (p *Proxy) count(resp *http.Response) error {
	key, ok := resp.Request.Context().Value(countKey{}).(string)
	if !ok || resp.StatusCode >= http.StatusMultipleChoices {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case resp.Request.URL.Path == newOrderPath && resp.StatusCode == http.StatusCreated:
		p.newOrders[key]++
	case resp.Request.URL.Path == newAccountPath:
		p.newAccounts[key]++
	}
	return nil
}

// countingKey is the sorted identifier list of a new order, or the thumbprint of the JWK that
// signs a new-account request.
func countingKey(path string, body []byte) string {
	var jws struct{ Protected, Payload string }
	if json.Unmarshal(body, &jws) != nil {
		return ""
	}
	if path == newOrderPath {
		payload, err := base64.RawURLEncoding.DecodeString(jws.Payload)
		if err != nil {
			return ""
		}
		var order struct {
			Identifiers []struct{ Value string } `json:"identifiers"`
		}
		if json.Unmarshal(payload, &order) != nil {
			return ""
		}
		values := make([]string, 0, len(order.Identifiers))
		for _, id := range order.Identifiers {
			values = append(values, strings.ToLower(id.Value))
		}
		return identifiersKey(values)
	}
	protected, err := base64.RawURLEncoding.DecodeString(jws.Protected)
	if err != nil {
		return ""
	}
	var header struct {
		JWK *jose.JSONWebKey `json:"jwk"`
	}
	if json.Unmarshal(protected, &header) != nil || header.JWK == nil {
		return ""
	}
	return Thumbprint(header.JWK.Key)
}

func identifiersKey(values []string) string {
	values = slices.Clone(values)
	slices.Sort(values)
	return strings.Join(values, ",")
}

// Thumbprint is the RFC 7638 thumbprint of a public key, base64url-encoded.
func Thumbprint(pub crypto.PublicKey) string {
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}

// NewOrders counts the orders Pebble created for exactly these identifiers.
func (p *Proxy) NewOrders(identifiers ...string) int {
	for i := range identifiers {
		identifiers[i] = strings.ToLower(identifiers[i])
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.newOrders[identifiersKey(identifiers)]
}

// NewAccounts counts the successful new-account requests signed by the key with this thumbprint
// (a request for an existing key returns that account, and still counts).
func (p *Proxy) NewAccounts(thumbprint string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.newAccounts[thumbprint]
}

func (p *Proxy) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return p.server.Shutdown(ctx)
}
