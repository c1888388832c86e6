package policy

import (
	"fmt"
	"net/mail"
	"net/netip"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// requestedValue is one name or subject value a CSR requests, validated once per request so that
// no pattern is ever tried against something that is not what its attribute claims to be.
type requestedValue struct {
	text string
	// malformed says in plain words what is wrong with text; empty when it is well formed.
	malformed string
	// wildcard marks a well-formed DNS name whose leftmost label is "*".
	wildcard bool
}

func dnsNameValue(s string) requestedValue {
	v := requestedValue{text: s, malformed: dnsNameProblem(s, true)}
	v.wildcard = v.malformed == "" && strings.HasPrefix(s, wildcardLabel)
	return v
}

func emailValue(s string) requestedValue {
	return requestedValue{text: s, malformed: emailProblem(s)}
}

func uriValue(s string) requestedValue {
	return requestedValue{text: s, malformed: uriProblem(s)}
}

func subjectValue(s string) requestedValue {
	return requestedValue{text: s, malformed: subjectValueProblem(s)}
}

const (
	maxDNSNameLength  = 253
	maxDNSLabelLength = 63
)

// dnsNameProblem holds a name to RFC 1123: letter, digit and hyphen labels, internationalized
// labels only as A-labels, so that a pattern sees a name exactly as DNS and TLS clients would.
// A wildcard, where allowed, is the whole leftmost label and nothing else.
func dnsNameProblem(name string, wildcardAllowed bool) string {
	switch {
	case name == "":
		return "is empty"
	case len(name) > maxDNSNameLength:
		return fmt.Sprintf("is %d bytes long; a DNS name holds at most %d", len(name), maxDNSNameLength)
	case !isASCII(name):
		return "holds a character outside ASCII; an internationalized name must be written in xn-- A-labels"
	case strings.HasSuffix(name, "."):
		return "ends with a dot"
	case name == "*":
		return "is a bare wildcard; a wildcard must stand before a domain, as in *.example.com"
	}
	labels := name
	if rest, ok := strings.CutPrefix(name, wildcardLabel); ok && wildcardAllowed {
		labels = rest
	}
	for {
		label, rest, more := strings.Cut(labels, ".")
		if problem := labelProblem(label); problem != "" {
			return problem
		}
		if !more {
			return ""
		}
		labels = rest
	}
}

func labelProblem(label string) string {
	switch {
	case label == "":
		return "has an empty label"
	case len(label) > maxDNSLabelLength:
		return fmt.Sprintf("label %q is %d bytes long; a DNS label holds at most %d", label, len(label), maxDNSLabelLength)
	case strings.Contains(label, "*"):
		return fmt.Sprintf(
			"label %q holds a wildcard, which is allowed only as the whole leftmost label of a DNS name SAN", label)
	case !isLDH(label):
		return fmt.Sprintf("label %q holds a character other than a letter, digit or hyphen", label)
	case label[0] == '-' || label[len(label)-1] == '-':
		return fmt.Sprintf("label %q starts or ends with a hyphen", label)
	case len(label) >= 4 && strings.EqualFold(label[:4], "xn--") && !isALabel(strings.ToLower(label)):
		return fmt.Sprintf("label %q starts with xn-- but is not the A-label of a valid internationalized label", label)
	}
	return ""
}

// isALabel requires what RFC 5891 requires of an A-label: punycode that decodes to a label the
// registration rules allow and encodes back to exactly itself, so no two spellings of one name
// can pass as different names.
func isALabel(label string) bool {
	u, err := idna.Registration.ToUnicode(label)
	if err != nil {
		return false
	}
	a, err := idna.Registration.ToASCII(u)
	return err == nil && a == label
}

func isLDH(label string) bool {
	for i := 0; i < len(label); i++ {
		c := label[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// emailProblem accepts only a bare RFC 5322 addr-spec: anything a mail parser would read as
// another address (display names, comments, quoting) must not be matched as this one.
func emailProblem(s string) string {
	if problem := asciiProblem(s); problem != "" {
		return problem
	}
	// The parser refuses an empty local part or domain; the round trip refuses whatever it would
	// rewrite.
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Name != "" || addr.Address != s {
		return "is not a bare address of the form local-part@domain (no display name, comment, quoting or space)"
	}
	domain := s[strings.LastIndexByte(s, '@')+1:]
	if problem := dnsNameProblem(domain, false); problem != "" {
		return fmt.Sprintf("its domain %q is not a valid DNS name: %s", domain, problem)
	}
	return ""
}

// uriProblem requires a URI to read back unchanged through net/url, as crypto/x509 reads it when
// it issues one, so the text a pattern matched is the text the certificate carries.
func uriProblem(s string) string {
	if problem := asciiProblem(s); problem != "" {
		return problem
	}
	if strings.ContainsRune(s, ' ') {
		return "holds a space"
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "cannot be parsed as a URI"
	case u.Scheme == "":
		return "has no scheme"
	case u.String() != s:
		return fmt.Sprintf("does not read back unchanged as a URI; it would be issued as %q", u.String())
	case u.Host != "":
		return hostProblem(u.Hostname())
	}
	return ""
}

func hostProblem(host string) string {
	if _, err := netip.ParseAddr(host); err == nil {
		return ""
	}
	if problem := dnsNameProblem(host, false); problem != "" {
		return fmt.Sprintf("its host %q is neither an IP address nor a valid DNS name: %s", host, problem)
	}
	return ""
}

// subjectValueProblem keeps out what would make a subject read differently to a person, a log
// or another parser than to the pattern that matched it.
func subjectValueProblem(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case strings.ContainsFunc(s, unicode.IsControl):
		return "holds a control character"
	}
	return ""
}

func asciiProblem(s string) string {
	switch {
	case !isASCII(s):
		return "holds a character outside ASCII"
	case strings.ContainsFunc(s, unicode.IsControl):
		return "holds a control character"
	}
	return ""
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
