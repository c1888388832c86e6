package policy

import "strings"

// Placeholders a pattern may contain, replaced with the requester's identity before matching.
const (
	placeholderUsername    = "$(requester.username)"
	placeholderSANamespace = "$(requester.serviceAccount.namespace)"
	placeholderSAName      = "$(requester.serviceAccount.name)"
	// placeholderIssuerNamespace is the namespace of the Issuer the CSR names: a delegating
	// policy confines each tenant to names of its own namespace with it.
	placeholderIssuerNamespace = "$(issuer.namespace)"
)

// patternByte is one byte of a pattern after placeholder substitution, or star. Keeping the
// wildcard out of the byte range is what stops a '*' in a substituted username from acting as
// one.
type patternByte uint16

const star patternByte = 256

// matchKind says which part of a value compares case-insensitively.
type matchKind int

const (
	matchExact matchKind = iota
	// matchDNS ignores ASCII case everywhere, as DNS does; names outside ASCII arrive as
	// punycode.
	matchDNS
	// matchEmail ignores ASCII case in the domain only: the local part belongs to the mail
	// server, which may tell case apart.
	matchEmail
)

// matcher matches values against patterns for one requester. Its buffer is reused across
// patterns so evaluating many policies does not allocate per pattern.
type matcher struct {
	id  identity
	buf []patternByte
}

func (m *matcher) matchAny(patterns []string, value string, kind matchKind) bool {
	for _, p := range patterns {
		if m.match(p, value, kind) {
			return true
		}
	}
	return false
}

// wildcardLabel starts a wildcard DNS name, and a pattern that allows one.
const wildcardLabel = "*."

// matchWildcardAny matches a wildcard DNS name, which stands for every name one label deeper,
// only against patterns whose own leftmost label is a wildcard; the rest must match as usual. A
// '*' the glob would match as a byte, or one a placeholder substitutes, grants no such thing.
func (m *matcher) matchWildcardAny(patterns []string, wildcardName string) bool {
	domain := strings.TrimPrefix(wildcardName, wildcardLabel)
	for _, p := range patterns {
		if rest, ok := strings.CutPrefix(p, wildcardLabel); ok && m.match(rest, domain, matchDNS) {
			return true
		}
	}
	return false
}

func (m *matcher) match(pattern, value string, kind matchKind) bool {
	compiled, ok := compilePattern(m.buf[:0], pattern, &m.id)
	m.buf = compiled
	return ok && globMatch(compiled, value, foldFrom(value, kind))
}

// foldFrom is the index in value from which bytes compare ignoring ASCII case.
func foldFrom(value string, kind matchKind) int {
	switch kind {
	case matchDNS:
		return 0
	case matchEmail:
		if at := strings.LastIndexByte(value, '@'); at >= 0 {
			return at + 1
		}
	}
	return len(value)
}

// compilePattern substitutes placeholders and marks wildcards. It reports false for a pattern
// that can match nothing: one with a serviceAccount placeholder when the requester is not a
// service account, one with $(issuer.namespace) when the CSR names no Issuer, or with a '$' that starts no known placeholder (validation forbids those, so
// meeting one means the policy bypassed it, and failing closed is the safe reading).
func compilePattern(dst []patternByte, pattern string, id *identity) ([]patternByte, bool) {
	for i := 0; i < len(pattern); {
		switch c := pattern[i]; c {
		case '*':
			dst = append(dst, star)
			i++
		case '$':
			value, n, ok := id.placeholder(pattern[i:])
			if !ok {
				return dst, false
			}
			for j := 0; j < len(value); j++ {
				dst = append(dst, patternByte(value[j]))
			}
			i += n
		default:
			dst = append(dst, patternByte(c))
			i++
		}
	}
	return dst, true
}

// placeholder resolves the placeholder s starts with, returning its value and length.
func (id *identity) placeholder(s string) (value string, n int, ok bool) {
	switch {
	case strings.HasPrefix(s, placeholderUsername):
		return id.username, len(placeholderUsername), true
	case strings.HasPrefix(s, placeholderSANamespace):
		return id.saNamespace, len(placeholderSANamespace), id.isServiceAccount
	case strings.HasPrefix(s, placeholderSAName):
		return id.saName, len(placeholderSAName), id.isServiceAccount
	case strings.HasPrefix(s, placeholderIssuerNamespace):
		return id.issuerNamespace, len(placeholderIssuerNamespace), id.issuerNamespace != ""
	}
	return "", 0, false
}

func isSeparator(b byte) bool {
	return b == '.' || b == '/' || b == '@'
}

// globMatch reports whether value matches the compiled pattern, where star matches one or more
// bytes other than a separator.
//
// Because no star can consume a separator, the k-th separator of value must meet the k-th
// literal separator of the pattern; so a matched separator fixes every earlier star, and only
// the latest star since then ever needs to grow. That bounds matching by
// len(pattern)·len(value) without recursion, whatever a requester puts in the CSR.
func globMatch(p []patternByte, value string, foldFrom int) bool {
	pi, vi := 0, 0
	starP, starV := -1, 0 // latest star still free to grow, and where its match ends
	for pi < len(p) || vi < len(value) {
		if pi < len(p) && vi < len(value) {
			switch c := value[vi]; {
			case p[pi] == star && !isSeparator(c):
				starP, starV = pi, vi+1
				pi, vi = pi+1, vi+1
				continue
			case p[pi] != star && sameByte(byte(p[pi]), c, vi >= foldFrom):
				if isSeparator(c) {
					starP = -1
				}
				pi, vi = pi+1, vi+1
				continue
			}
		}
		if starP < 0 || starV >= len(value) || isSeparator(value[starV]) {
			return false
		}
		starV++
		pi, vi = starP+1, starV
	}
	return true
}

func sameByte(a, b byte, fold bool) bool {
	if a == b {
		return true
	}
	return fold && lowerASCII(a) == lowerASCII(b)
}

func lowerASCII(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + ('a' - 'A')
	}
	return b
}
