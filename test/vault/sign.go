package vault

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// systemMaxTTL is Vault's default max lease TTL (768h), which caps roles without max_ttl.
const systemMaxTTL = 768 * time.Hour

// notBeforeSkew is Vault's default not_before_duration: certificates are backdated by it.
const notBeforeSkew = 30 * time.Second

// Role is a PKI role: what the sign endpoint at <mount>/sign/<name> may issue. Field names follow
// Vault's role parameters.
type Role struct {
	// AllowedDomains, AllowSubdomains, AllowBareDomains and AllowAnyName decide which DNS names
	// (common name, DNS SANs, and the domain of email SANs) may be issued. allow_subdomains also
	// allows wildcards, as Vault's allow_wildcard_certificates default does.
	AllowedDomains   []string
	AllowSubdomains  bool
	AllowBareDomains bool
	AllowAnyName     bool
	// DenyIPSANs is allow_ip_sans=false (Vault allows IP SANs by default).
	DenyIPSANs bool
	// AllowedURISANs are globs URI SANs must match; none are allowed when empty, as in Vault.
	AllowedURISANs []string
	// RequireCN is Vault's require_cn. Vault defaults it to true; here the zero value does not
	// require a common name, since CSRs for IP or URI names only are common in Kubernetes.
	RequireCN bool
	// TTL is the lifetime when the request names none; MaxTTL caps every request (a longer TTL is
	// shortened with a warning, as Vault does). Both default to Vault's system max, 768h.
	TTL, MaxTTL time.Duration
	// UseParameters takes the common name and SANs from the request parameters (common_name,
	// alt_names, ip_sans, uri_sans) instead of the CSR: use_csr_common_name=false and
	// use_csr_sans=false.
	UseParameters bool
}

// PKIRole creates or replaces the role name of the PKI mount; it is served at
// <mount>/sign/<name>.
func (s *Server) PKIRole(mount, name string, role Role) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roles[mount+"/"+name] = role
}

// signRequest is the body of a sign call; Vault takes strings or JSON values for every field.
type signRequest struct {
	CSR               string `json:"csr"`
	CommonName        string `json:"common_name"`
	AltNames          string `json:"alt_names"`
	IPSANs            string `json:"ip_sans"`
	URISANs           string `json:"uri_sans"`
	TTL               any    `json:"ttl"`
	ExcludeCNFromSANs any    `json:"exclude_cn_from_sans"`
}

// names are the subject names of a certificate to issue.
type names struct {
	cn     string
	dns    []string
	emails []string
	ips    []net.IP
	uris   []*url.URL
}

func (s *Server) sign(r *http.Request, p string) (*vaultResponse, error) {
	tok, err := s.authenticate(r)
	if err != nil {
		return nil, err
	}
	if !tok.policy.allows(p) {
		return nil, errPermissionDenied
	}
	mount, roleName, _ := strings.Cut(p, "/sign/")
	s.mu.Lock()
	role, ok := s.roles[mount+"/"+roleName]
	s.mu.Unlock()
	if !ok {
		return nil, errorf(http.StatusBadRequest, "unknown role: %s", roleName)
	}
	var body signRequest
	if err := decode(r, &body); err != nil {
		return nil, err
	}
	csr, err := parseCSR(body.CSR)
	if err != nil {
		return nil, err
	}
	n, err := requestedNames(role, body, csr)
	if err != nil {
		return nil, err
	}
	if err := role.check(n); err != nil {
		return nil, err
	}
	ttl, warnings, err := role.ttl(body.TTL)
	if err != nil {
		return nil, err
	}
	return s.issue(csr, n, ttl, warnings)
}

func parseCSR(csrPEM string) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode([]byte(csrPEM))
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errorf(http.StatusBadRequest, "certificate request could not be parsed")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "certificate request could not be parsed")
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, errorf(http.StatusBadRequest, "request signature invalid")
	}
	return csr, nil
}

// requestedNames collects the names to issue from the CSR or the parameters, as the role says,
// and adds the common name to the SANs unless exclude_cn_from_sans is set.
func requestedNames(role Role, body signRequest, csr *x509.CertificateRequest) (names, error) {
	n := names{cn: csr.Subject.CommonName, dns: csr.DNSNames, emails: csr.EmailAddresses, ips: csr.IPAddresses, uris: csr.URIs}
	if role.UseParameters {
		n = names{cn: body.CommonName}
		for _, alt := range split(body.AltNames) {
			if strings.Contains(alt, "@") {
				n.emails = append(n.emails, alt)
			} else {
				n.dns = append(n.dns, alt)
			}
		}
		for _, ip := range split(body.IPSANs) {
			parsed := net.ParseIP(ip)
			if parsed == nil {
				return names{}, errorf(http.StatusBadRequest, "the value %q is not a valid IP address", ip)
			}
			n.ips = append(n.ips, parsed)
		}
		for _, u := range split(body.URISANs) {
			parsed, err := url.Parse(u)
			if err != nil {
				return names{}, errorf(http.StatusBadRequest, "the value %q is not a valid URI", u)
			}
			n.uris = append(n.uris, parsed)
		}
	}
	if n.cn == "" && role.RequireCN {
		return names{}, errorf(http.StatusBadRequest, `the common_name field is required, or must be provided in a CSR with "use_csr_common_name" set to true, unless "require_cn" is set to false`)
	}
	if exclude, _ := strconv.ParseBool(fmt.Sprint(body.ExcludeCNFromSANs)); !exclude && n.cn != "" {
		if strings.Contains(n.cn, "@") {
			n.emails = append(n.emails, n.cn)
		} else {
			n.dns = append(n.dns, n.cn)
		}
	}
	return n, nil
}

func split(list string) []string {
	var out []string
	for _, v := range strings.Split(list, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// check applies the role's name rules with Vault's messages.
func (role Role) check(n names) error {
	if n.cn != "" && !role.allowsName(n.cn) {
		return errorf(http.StatusBadRequest, "common name %s not allowed by this role", n.cn)
	}
	for _, name := range append(append([]string(nil), n.dns...), n.emails...) {
		if !role.allowsName(name) {
			return errorf(http.StatusBadRequest, "subject alternate name %s not allowed by this role", name)
		}
	}
	if role.DenyIPSANs && len(n.ips) > 0 {
		return errorf(http.StatusBadRequest, "IP Subject Alternative Names are not allowed in this role, but was provided %s", n.ips[0])
	}
	for _, u := range n.uris {
		if len(role.AllowedURISANs) == 0 {
			return errorf(http.StatusBadRequest, "URI Subject Alternative Names are not allowed in this role, but was provided %s", u)
		}
		if !role.allowsURI(u.String()) {
			return errorf(http.StatusBadRequest, "URI Subject Alternative Name %s not allowed by this role", u)
		}
	}
	return nil
}

// allowsName applies allowed_domains to a DNS name, or to the domain of an email address.
func (role Role) allowsName(name string) bool {
	if role.AllowAnyName {
		return true
	}
	if _, domain, ok := strings.Cut(name, "@"); ok {
		name = domain
	}
	name = strings.ToLower(name)
	for _, d := range role.AllowedDomains {
		d = strings.ToLower(d)
		if role.AllowBareDomains && name == d {
			return true
		}
		if role.AllowSubdomains && strings.HasSuffix(name, "."+d) {
			// A wildcard may only stand for the leftmost label.
			if strings.Count(name, "*") == 0 || (strings.HasPrefix(name, "*.") && strings.Count(name, "*") == 1) {
				return true
			}
		}
	}
	return false
}

func (role Role) allowsURI(u string) bool {
	return slices.ContainsFunc(role.AllowedURISANs, func(pattern string) bool { return glob(pattern, u) })
}

// glob matches as Vault's allowed_uri_sans do: "*" stands for any run of characters, "/" included.
func glob(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, part := range parts[1 : len(parts)-1] {
		i := strings.Index(s, part)
		if i < 0 {
			return false
		}
		s = s[i+len(part):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

// ttl is the lifetime to issue for: the requested ttl, else the role's, capped at max_ttl with
// Vault's warning.
func (role Role) ttl(requested any) (time.Duration, []string, error) {
	ttl, err := parseTTL(requested)
	if err != nil {
		return 0, nil, err
	}
	maxTTL := role.MaxTTL
	if maxTTL == 0 {
		maxTTL = systemMaxTTL
	}
	if ttl == 0 {
		ttl = role.TTL
	}
	if ttl == 0 {
		ttl = maxTTL
	}
	if ttl > maxTTL {
		return maxTTL, []string{fmt.Sprintf("TTL %q is longer than permitted maxTTL %q, so maxTTL is being used", ttl, maxTTL)}, nil
	}
	return ttl, nil, nil
}

// parseTTL reads a TTL the way Vault does: a duration string, or a number of seconds.
func parseTTL(v any) (time.Duration, error) {
	switch t := v.(type) {
	case nil:
		return 0, nil
	case float64:
		return time.Duration(t) * time.Second, nil
	case string:
		if t == "" {
			return 0, nil
		}
		if secs, err := strconv.Atoi(t); err == nil {
			return time.Duration(secs) * time.Second, nil
		}
		d, err := time.ParseDuration(t)
		if err != nil {
			return 0, errorf(http.StatusBadRequest, "error parsing ttl: %v", err)
		}
		return d, nil
	}
	return 0, errorf(http.StatusBadRequest, "error parsing ttl: unsupported value %v", v)
}

// issue signs the certificate with the intermediate and answers as Vault's sign endpoint does.
func (s *Server) issue(csr *x509.CertificateRequest, n names, ttl time.Duration, warnings []string) (*vaultResponse, error) {
	ca := s.Intermediate
	now := time.Now()
	notAfter := now.Add(ttl)
	if notAfter.After(ca.Cert.NotAfter) {
		return nil, errorf(http.StatusBadRequest, "cannot satisfy request, as TTL would result in notAfter of %s that is beyond the expiration of the CA certificate at %s",
			notAfter.UTC().Format(time.RFC3339Nano), ca.Cert.NotAfter.UTC().Format(time.RFC3339Nano))
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: n.cn},
		NotBefore: now.Add(-notBeforeSkew), NotAfter: notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageKeyAgreement,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:    n.dns, EmailAddresses: n.emails, IPAddresses: n.ips, URIs: n.uris,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, csr.PublicKey, ca.Key)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "unable to create certificate: %v", err)
	}
	s.mu.Lock()
	s.signed++
	s.mu.Unlock()
	return &vaultResponse{Warnings: warnings, Data: map[string]any{
		"certificate":   string(pemCert(der)),
		"issuing_ca":    string(ca.CertPEM),
		"ca_chain":      []string{string(ca.CertPEM), string(s.Root.CertPEM)},
		"serial_number": colonHex(tmpl.SerialNumber.Bytes()),
		"expiration":    notAfter.Unix(),
	}}, nil
}

// colonHex spells a serial number as Vault does, "1a:2b:...".
func colonHex(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02x", c)
	}
	return strings.Join(parts, ":")
}
