package pebble

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/miekg/dns"
)

// ChallTestSrv is a running pebble-challtestsrv that serves DNS only, and that Pebble resolves
// every identifier through:
//   - A queries for any name answer 127.0.0.1, so HTTP-01 validations of any test name reach
//     the operator's challenge listener on loopback;
//   - AAAA queries answer nothing, since Pebble dials the first address it gets and nothing of
//     the test listens on ::1;
//   - TXT records are what its management API was given (see DNSServer).
type ChallTestSrv struct {
	// DNSAddr is host:port of its DNS listeners, UDP and TCP.
	DNSAddr string
	// Log is its output.
	Log string

	managementURL string
	client        *http.Client
	proc          *process
}

// StartChallTestSrv runs binary (see Install) with its DNS listener and management API on free
// loopback ports and its HTTP-01, HTTPS HTTP-01, TLS-ALPN-01 and DoH servers off, logging in
// dir, and waits until both answer.
func StartChallTestSrv(binary, dir string) (*ChallTestSrv, error) {
	// pebble-challtestsrv keeps running when it cannot bind a port, so a port taken between
	// FreePorts and the bind is seen in its log, and it is started again on other ports.
	var errs []error
	for range 3 {
		c, err := startChallTestSrv(binary, dir)
		if err == nil {
			return c, nil
		}
		if errs = append(errs, err); !errors.Is(err, errPortTaken) {
			break
		}
	}
	return nil, errors.Join(errs...)
}

func startChallTestSrv(binary, dir string) (*ChallTestSrv, error) {
	ports, err := FreePorts(2)
	if err != nil {
		return nil, err
	}
	management := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))
	c := &ChallTestSrv{
		DNSAddr:       net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])),
		Log:           filepath.Join(dir, "challtestsrv.log"),
		managementURL: "http://" + management,
		client:        &http.Client{Timeout: 5 * time.Second},
	}
	c.proc, err = startProcess(binary, dir, c.Log, os.Environ(),
		"-dnsserver", c.DNSAddr, "-management", management,
		"-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
		"-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "")
	if err != nil {
		return nil, err
	}
	if err := c.proc.waitReady(c.ready); err != nil {
		c.proc.stop()
		return nil, err
	}
	return c, nil
}

// ready checks that both listeners are this process's and answer.
func (c *ChallTestSrv) ready() error {
	err := c.probe()
	if log, readErr := os.ReadFile(c.Log); readErr == nil && bytes.Contains(log, []byte("address already in use")) {
		return fmt.Errorf("%w; see %s", errPortTaken, c.Log)
	}
	return err
}

// probe asks the management API for something harmless and the DNS listener for an A record,
// which must be loopback.
func (c *ChallTestSrv) probe() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	const name = "ready.challtestsrv.test."
	if err := c.ClearTXT(ctx, name); err != nil {
		return err
	}
	rrs, err := c.Query(ctx, name, dns.TypeA)
	if err != nil {
		return err
	}
	if len(rrs) == 1 {
		if a, ok := rrs[0].(*dns.A); ok && a.A.Equal(net.IPv4(127, 0, 0, 1)) {
			return nil
		}
	}
	return fmt.Errorf("the A record of %s is %v, want 127.0.0.1", name, rrs)
}

// Stop ends the process.
func (c *ChallTestSrv) Stop() {
	c.proc.stop()
}

// Query asks the DNS listener for the records of type qtype at name, over TCP like Pebble.
func (c *ChallTestSrv) Query(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	client := &dns.Client{Net: "tcp", Timeout: 5 * time.Second}
	in, _, err := client.ExchangeContext(ctx, m, c.DNSAddr)
	if err != nil {
		return nil, err
	}
	if in.Rcode != dns.RcodeSuccess {
		return nil, fmt.Errorf("%s %s: %s", dns.TypeToString[qtype], name, dns.RcodeToString[in.Rcode])
	}
	return in.Answer, nil
}

// SetTXT adds value to the TXT records at host.
func (c *ChallTestSrv) SetTXT(ctx context.Context, host, value string) error {
	return c.manage(ctx, "/set-txt", map[string]string{"host": dns.Fqdn(host), "value": value})
}

// ClearTXT removes every TXT record at host.
func (c *ChallTestSrv) ClearTXT(ctx context.Context, host string) error {
	return c.manage(ctx, "/clear-txt", map[string]string{"host": dns.Fqdn(host)})
}

func (c *ChallTestSrv) manage(ctx context.Context, path string, body any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.managementURL+path, bytes.NewReader(data))
	if err != nil {
		return err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %s", path, resp.Status)
	}
	return nil
}
