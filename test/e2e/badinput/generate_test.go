package badinput

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signerpolicy/signer-policy-operator/test/harness"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

// updateCorpus regenerates the committed request PEMs and the fuzz seeds drawn from the corpus:
//
//	go test ./test/e2e/badinput -run TestGenerateCorpus -update-corpus
//
// Keys are fresh each time, so the files change even when nothing else does; commit them only
// with a change to what they contain.
var updateCorpus = flag.Bool("update-corpus", false, "regenerate test/testdata/badinput/csr and the fuzz seeds drawn from the corpus")

// requestFiles builds each committed request of the corpus. Every request names hosts under
// example.com, which the governed policy allows, so that each file is refused or allowed for
// the one reason its name gives.
var requestFiles = map[string]func(t testing.TB) []byte{
	"web.pem": func(t testing.TB) []byte { return plainRequest(t, "web.example.com") },
	"bad-signature.pem": func(t testing.TB) []byte {
		der := testpki.RequestDER(t, ecKey(t), &x509.CertificateRequest{DNSNames: []string{"web.example.com"}})
		der[len(der)-1] ^= 0x01 // the last byte is inside the signature
		return csrPEM(der)
	},
	"signed-by-another-key.pem": func(t testing.TB) []byte {
		der := testpki.RequestDER(t, ecKey(t), &x509.CertificateRequest{DNSNames: []string{"web.example.com"}})
		return csrPEM(resign(t, der, ecKey(t)))
	},
	"certificate-block.pem": func(t testing.TB) []byte {
		return testpki.NewRootCA(t, testpki.ECDSA, "not a request").CertPEM
	},
	"private-key-block.pem": func(testing.TB) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("not a key")})
	},
	"new-certificate-request-block.pem": func(t testing.TB) []byte {
		block, _ := pem.Decode(plainRequest(t, "web.example.com"))
		block.Type = "NEW CERTIFICATE REQUEST"
		return pem.EncodeToMemory(block)
	},
	"empty.pem":       func(testing.TB) []byte { return nil },
	"garbage-der.pem": func(testing.TB) []byte { return csrPEM([]byte("this is not DER")) },
	"trailing-bytes-in-block.pem": func(t testing.TB) []byte {
		return csrPEM(append(testpki.RequestDER(t, ecKey(t), &x509.CertificateRequest{DNSNames: []string{"web.example.com"}}), 0x05, 0x00))
	},
	"trailing-certificate-block.pem": func(t testing.TB) []byte {
		return append(plainRequest(t, "web.example.com"), testpki.NewRootCA(t, testpki.ECDSA, "smuggled").CertPEM...)
	},
	"leading-text.pem": func(t testing.TB) []byte {
		return append([]byte("Certificate Request:\n    Data:\n        Subject: CN=web.example.com\n"), plainRequest(t, "web.example.com")...)
	},
	"pem-headers.pem": func(t testing.TB) []byte {
		block, _ := pem.Decode(plainRequest(t, "web.example.com"))
		block.Headers = map[string]string{"Comment": "headers are not part of the request"}
		return pem.EncodeToMemory(block)
	},
	"duplicate-extension.pem": func(t testing.TB) []byte {
		ext := pkix.Extension{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, Value: []byte{0x05, 0x00}}
		return testpki.RequestPEM(t, ecKey(t), &x509.CertificateRequest{DNSNames: []string{"web.example.com"}, ExtraExtensions: []pkix.Extension{ext, ext}})
	},
	"duplicate-san-extension.pem": func(t testing.TB) []byte {
		a, b := sanExtension(t, "web.example.com"), sanExtension(t, "evil.example.org")
		return testpki.RequestPEM(t, ecKey(t), &x509.CertificateRequest{ExtraExtensions: []pkix.Extension{a, b}})
	},
	"sans-1000.pem": func(t testing.TB) []byte { return testpki.RequestPEM(t, ecKey(t), manySANs(1000)) },
	"cn-homoglyph.pem": func(t testing.TB) []byte {
		// U+0430 CYRILLIC SMALL LETTER A for the 'a' of example.
		return testpki.RequestPEM(t, ecKey(t), &x509.CertificateRequest{Subject: pkix.Name{CommonName: "web.ex\u0430mple.com"}})
	},
	"cn-fullwidth.pem": func(t testing.TB) []byte {
		return testpki.RequestPEM(t, ecKey(t), &x509.CertificateRequest{Subject: pkix.Name{CommonName: "\uff57\uff45\uff42.example.com"}})
	},
	"cn-bidi-override.pem": func(t testing.TB) []byte {
		// U+202E RIGHT-TO-LEFT OVERRIDE: displayed, the label reads backwards.
		return testpki.RequestPEM(t, ecKey(t), &x509.CertificateRequest{Subject: pkix.Name{CommonName: "web\u202egro.example.com"}})
	},
	"cn-nul.pem": func(t testing.TB) []byte {
		return testpki.RequestPEM(t, ecKey(t), &x509.CertificateRequest{Subject: pkix.Name{CommonName: "web\x00.example.com"}})
	},
	"cn-invalid-utf8.pem": func(t testing.TB) []byte {
		cn := asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte{'w', 0xff, 0xfe, '.', 'e', 'x'}}
		subject, err := asn1.Marshal(pkix.RDNSequence{{{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: cn}}})
		if err != nil {
			t.Fatal(err)
		}
		return testpki.RequestPEM(t, ecKey(t), &x509.CertificateRequest{RawSubject: subject})
	},
	"dns-raw-utf8.pem": func(t testing.TB) []byte {
		return testpki.RequestPEM(t, ecKey(t), &x509.CertificateRequest{ExtraExtensions: []pkix.Extension{sanExtension(t, "b\u00fccher.example.com")}})
	},
	"dns-punycode.pem": func(t testing.TB) []byte { return plainRequest(t, "xn--bcher-kva.example.com") },
	"email-utf8-local-part.pem": func(t testing.TB) []byte {
		ext := rawSANExtension(t, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, Bytes: []byte("j\u00f6hn@example.com")})
		return testpki.RequestPEM(t, ecKey(t), &x509.CertificateRequest{ExtraExtensions: []pkix.Extension{ext}})
	},
	"organization-system-masters.pem": func(t testing.TB) []byte {
		return testpki.RequestPEM(t, ecKey(t), &x509.CertificateRequest{Subject: pkix.Name{Organization: []string{"system:masters"}}, DNSNames: []string{"web.example.com"}})
	},
	"rsa-1024.pem": func(t testing.TB) []byte {
		key, err := rsa.GenerateKey(rand.Reader, 1024)
		if err != nil {
			t.Fatal(err)
		}
		return testpki.RequestPEM(t, key, &x509.CertificateRequest{DNSNames: []string{"web.example.com"}})
	},
	"empty-subject.pem": func(t testing.TB) []byte { return testpki.RequestPEM(t, ecKey(t), &x509.CertificateRequest{}) },
}

// TestGenerateCorpus writes the committed requests and the fuzz seeds; without -update-corpus it
// only checks that every request file the manifests name has a generator, so that the corpus can
// always be rebuilt.
func TestGenerateCorpus(t *testing.T) {
	var csrs []csrCase
	load(t, "csrs.yaml", &csrs)
	for _, c := range csrs {
		if c.File != "" && requestFiles[c.File] == nil {
			t.Errorf("csrs.yaml names %s, which has no generator", c.File)
		}
		if (c.File == "") == (c.Generate == nil) {
			t.Errorf("case %s must name exactly one of file and generate", c.Name)
		}
	}
	if !*updateCorpus {
		return
	}
	dir := filepath.Join(corpusDir(t), "csr")
	for name, build := range requestFiles {
		writeFile(t, filepath.Join(dir, name), build(t))
	}
	writeFuzzSeeds(t, csrs)
}

// writeFuzzSeeds turns the corpus into seeds of the parsers' fuzz targets, in the go test fuzz
// v1 format, so that `go test` runs every bad input through each parser on every run and the
// fuzzer starts from them.
func writeFuzzSeeds(t *testing.T, csrs []csrCase) {
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	seed := func(pkg, target, name string, values ...string) {
		var b strings.Builder
		b.WriteString("go test fuzz v1\n")
		for _, v := range values {
			b.WriteString(v + "\n")
		}
		writeFile(t, filepath.Join(root, "internal", pkg, "testdata", "fuzz", target, "badinput-"+name), []byte(b.String()))
	}
	for _, c := range csrs {
		// Seeds stay small: the fuzzer mutates them, and the large cases add nothing to the
		// parser's view that a small one does not.
		if c.File == "" {
			continue
		}
		if data := readPEM(t, c.File); len(data) <= 4096 {
			seed("csr", "FuzzParseRequest", strings.TrimSuffix(c.File, ".pem"), fmt.Sprintf("[]byte(%q)", data))
		}
	}
	var names []signerNameCase
	load(t, "signernames.yaml", &names)
	for _, c := range names {
		seed("csr", "FuzzParseSignerName", c.Name, fmt.Sprintf("string(%q)", c.SignerName))
	}
	var annotations []annotationCase
	load(t, "annotations.yaml", &annotations)
	for _, c := range annotations {
		v := c.value()
		if len(v) > 1024 {
			v = v[:1024]
		}
		switch c.Key {
		case "experimental.cert-manager.io/request-duration":
			seed("csr", "FuzzRequestedDuration", c.Name, fmt.Sprintf("string(%q)", v))
		case "experimental.cert-manager.io/request-is-ca":
			seed("csr", "FuzzRequestedIsCA", c.Name, fmt.Sprintf("string(%q)", v))
		}
	}
	// The common names the Unicode cases carry, against the governed policy's pattern and a
	// placeholder pattern, with the corpus's requester.
	for name, cn := range map[string]string{
		"homoglyph": "web.ex\u0430mple.com", "fullwidth": "\uff57\uff45\uff42.example.com",
		"bidi-override": "web\u202egro.example.com", "nul": "web\x00.example.com", "invalid-utf8": "w\xff\xfe.example.com",
	} {
		seed("policy", "FuzzMatch", "cn-"+name, fmt.Sprintf("string(%q)", "*.example.com"), fmt.Sprintf("string(%q)", cn), fmt.Sprintf("string(%q)", requesterName))
		seed("policy", "FuzzMatch", "cn-"+name+"-placeholder", fmt.Sprintf("string(%q)", "$(requester.username).example.com"),
			fmt.Sprintf("string(%q)", cn), fmt.Sprintf("string(%q)", strings.TrimSuffix(cn, ".example.com")))
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func ecKey(t testing.TB) crypto.Signer { return testpki.NewKey(t, testpki.ECDSA) }

func plainRequest(t testing.TB, dnsName string) []byte {
	return testpki.RequestPEM(t, ecKey(t), &x509.CertificateRequest{DNSNames: []string{dnsName}})
}

func csrPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// manySANs asks for n DNS names, each allowed by the governed policy.
func manySANs(n int) *x509.CertificateRequest {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("h%05d.example.com", i)
	}
	return &x509.CertificateRequest{DNSNames: names}
}

// bigCommonName asks for a common name of n bytes that ends like a name the policy allows.
func bigCommonName(n int) *x509.CertificateRequest {
	const suffix = ".example.com"
	return &x509.CertificateRequest{Subject: pkix.Name{CommonName: strings.Repeat("a", max(n-len(suffix), 1)) + suffix}}
}

// sanExtension is a subjectAltName extension holding one dNSName, encoded by hand so that names
// crypto/x509 would refuse to encode (non-ASCII) get in.
func sanExtension(t testing.TB, dnsName string) pkix.Extension {
	t.Helper()
	return rawSANExtension(t, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte(dnsName)})
}

func rawSANExtension(t testing.TB, name asn1.RawValue) pkix.Extension {
	t.Helper()
	value, err := asn1.Marshal([]asn1.RawValue{name})
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Value: value}
}

// pkcs10 is the outer structure of a certificate request, for re-signing one.
type pkcs10 struct {
	TBS                asn1.RawValue
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          asn1.BitString
}

// resign replaces the signature of der, whose request names another key, with one by key: the
// request then claims a public key its submitter cannot prove it holds.
func resign(t testing.TB, der []byte, key crypto.Signer) []byte {
	t.Helper()
	var req pkcs10
	if _, err := asn1.Unmarshal(der, &req); err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(req.TBS.FullBytes)
	sig, err := ecdsa.SignASN1(rand.Reader, key.(*ecdsa.PrivateKey), digest[:])
	if err != nil {
		t.Fatal(err)
	}
	req.Signature = asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}
	out, err := asn1.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
