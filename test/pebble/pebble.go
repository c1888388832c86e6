package pebble

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cert-manager/cert-manager/pkg/util/pki"
)

// Profile is a Pebble certificate profile.
type Profile struct {
	Description    string `json:"description"`
	ValidityPeriod uint64 `json:"validityPeriod"`
}

// Options configure one Pebble.
type Options struct {
	// Binary is the pebble executable (see Install).
	Binary string
	// Dir receives the configuration, the listener's key pair and pebble.log.
	Dir string
	// HTTPPort is the port Pebble connects to for HTTP-01 validations.
	HTTPPort int
	// DNSServer is host:port of the nameserver Pebble resolves identifiers through.
	DNSServer string
	// EABKeys, when set, makes Pebble require External Account Binding with these
	// key IDs and base64url HMAC keys.
	EABKeys map[string]string
	// Blocklist are domains (and their subdomains) Pebble refuses to order.
	Blocklist []string
	// Profiles replaces Pebble's single default profile.
	Profiles map[string]Profile
	// AlternateRoots adds chains to other roots, offered as alternate links.
	AlternateRoots int
}

// Server is a running Pebble behind the counting proxy.
type Server struct {
	// DirectoryURL is the ACME directory, through the proxy.
	DirectoryURL string
	// CABundle is the PEM CA that Pebble's and the proxy's TLS certificates chain to.
	CABundle []byte
	// Proxy counts what Pebble created.
	Proxy *Proxy
	// Log is Pebble's output.
	Log string

	managementURL string
	listener      *serverTLS
	proc          *process
}

// config is Pebble's JSON configuration (cmd/pebble/main.go).
type config struct {
	Pebble struct {
		ListenAddress                  string             `json:"listenAddress"`
		ManagementListenAddress        string             `json:"managementListenAddress"`
		HTTPPort                       int                `json:"httpPort"`
		TLSPort                        int                `json:"tlsPort"`
		Certificate                    string             `json:"certificate"`
		PrivateKey                     string             `json:"privateKey"`
		ExternalAccountBindingRequired bool               `json:"externalAccountBindingRequired"`
		ExternalAccountMACKeys         map[string]string  `json:"externalAccountMACKeys,omitempty"`
		DomainBlocklist                []string           `json:"domainBlocklist,omitempty"`
		Profiles                       map[string]Profile `json:"profiles,omitempty"`
		RetryAfter                     struct {
			Authz int `json:"authz"`
			Order int `json:"order"`
		} `json:"retryAfter"`
	} `json:"pebble"`
}

// Start runs Pebble with every listener on 127.0.0.1 and waits until its directory answers.
func Start(opts Options) (*Server, error) {
	listener, err := newServerTLS(opts.Dir)
	if err != nil {
		return nil, err
	}
	ports, err := FreePorts(3)
	if err != nil {
		return nil, err
	}
	var cfg config
	p := &cfg.Pebble
	p.ListenAddress = "127.0.0.1:" + strconv.Itoa(ports[0])
	p.ManagementListenAddress = "127.0.0.1:" + strconv.Itoa(ports[1])
	// Nothing listens there: no test uses TLS-ALPN-01, and Pebble must not dial its default.
	p.HTTPPort, p.TLSPort = opts.HTTPPort, ports[2]
	p.Certificate, p.PrivateKey = listener.certFile, listener.keyFile
	p.ExternalAccountBindingRequired = len(opts.EABKeys) > 0
	p.ExternalAccountMACKeys, p.DomainBlocklist, p.Profiles = opts.EABKeys, opts.Blocklist, opts.Profiles
	p.RetryAfter.Authz, p.RetryAfter.Order = 1, 1
	cfgFile := filepath.Join(opts.Dir, "pebble-config.json")
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(cfgFile, data, 0o600); err != nil {
		return nil, err
	}
	s := &Server{CABundle: listener.caPEM, Log: filepath.Join(opts.Dir, "pebble.log"), listener: listener,
		managementURL: "https://" + p.ManagementListenAddress}
	if err := s.run(opts, cfgFile); err != nil {
		return nil, err
	}
	if err := s.waitReady("https://" + p.ListenAddress + "/dir"); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	if s.Proxy, err = startProxy("https://"+p.ListenAddress, listener); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	s.DirectoryURL = s.Proxy.URL + "/dir"
	return s, nil
}

// run starts the process. The environment keeps Pebble deterministic and fast: no random
// validation sleeps, no rejected nonces, and no reuse of valid authorizations, so every order
// is really validated.
func (s *Server) run(opts Options, cfgFile string) (err error) {
	env := append(os.Environ(),
		"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0",
		"PEBBLE_ALTERNATE_ROOTS="+strconv.Itoa(opts.AlternateRoots))
	s.proc, err = startProcess(opts.Binary, opts.Dir, s.Log, env, "-config", cfgFile, "-dnsserver", opts.DNSServer)
	return err
}

func (s *Server) waitReady(dirURL string) error {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: s.listener.clientConfig()}}
	return s.proc.waitReady(func() error {
		resp, err := client.Get(dirURL)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", dirURL, resp.Status)
		}
		return nil
	})
}

// Stop ends the proxy and the process.
func (s *Server) Stop() error {
	var errs []error
	if s.Proxy != nil {
		errs = append(errs, s.Proxy.close())
	}
	if s.proc != nil {
		s.proc.stop()
	}
	return errors.Join(errs...)
}

// HTTP01Fetches counts the HTTP-01 validation requests Pebble reports sending to host (it
// sends several per challenge), as proof that validation really went over the network.
func (s *Server) HTTP01Fetches(host string) (int, error) {
	data, err := os.ReadFile(s.Log)
	if err != nil {
		return 0, err
	}
	return strings.Count(string(data), "Attempting to validate w/ HTTP: http://"+host+":"), nil
}

// Root returns root i (0 is the default chain's) from the management interface.
func (s *Server) Root(ctx context.Context, i int) (*x509.Certificate, error) {
	return s.managementCert(ctx, "/roots/"+strconv.Itoa(i))
}

// Intermediate returns the intermediate of chain i.
func (s *Server) Intermediate(ctx context.Context, i int) (*x509.Certificate, error) {
	return s.managementCert(ctx, "/intermediates/"+strconv.Itoa(i))
}

func (s *Server) managementCert(ctx context.Context, path string) (*x509.Certificate, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.managementURL+path, nil)
	if err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: s.listener.clientConfig()}}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return pki.DecodeX509CertificateBytes(data)
}

// FreePorts returns n distinct TCP ports free on 127.0.0.1 at the time of asking.
func FreePorts(n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		listeners = append(listeners, l)
		addr, ok := l.Addr().(*net.TCPAddr)
		if !ok {
			return nil, fmt.Errorf("listener address %v is not TCP", l.Addr())
		}
		ports = append(ports, addr.Port)
	}
	return ports, nil
}
