package badinput

import (
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

// The corpus lives in test/testdata/badinput as data, so that it can be read, reviewed and
// extended without reading Go: each manifest lists inputs with the outcome the operator and the
// API server are documented to give them. README.md there describes the format.

// outcome is what one input is documented to get.
type outcome struct {
	// Outcome is one of:
	//   Refused  the API server refuses the create (the operator never sees it);
	//   Denied   the approval controller adds a Denied condition;
	//   Failed   the signing controller adds a Failed condition with Reason;
	//   Event    the operator leaves the CSR as it is and explains itself in an event with Reason;
	//   Issued   the CSR gets a certificate;
	//   Ignored  the operator neither writes to the CSR nor records an event about it;
	//   Accepted (policies) the API server stores it and the operator reports its Ready condition
	//            with Reason.
	Outcome string `json:"outcome"`
	// Field must appear in the refusal, condition or event message: it names what to fix.
	Field string `json:"field,omitempty"`
	// Reason is the Failed condition's or the event's reason, or the policy's Ready reason.
	Reason string `json:"reason,omitempty"`
	// Message is another fragment the message must contain.
	Message string `json:"message,omitempty"`
	// MaxMessageBytes bounds the message, for inputs far larger than any message should be.
	MaxMessageBytes int `json:"maxMessageBytes,omitempty"`
	// Pruned lists, sorted, the fields of an accepted policy the API server drops as unknown.
	Pruned []string `json:"pruned,omitempty"`
}

// Outcomes.
const (
	refused  = "Refused"
	denied   = "Denied"
	failed   = "Failed"
	event    = "Event"
	issued   = "Issued"
	ignored  = "Ignored"
	accepted = "Accepted"
)

// csrCase is a spec.request, with the usages and expirationSeconds it is sent with, submitted by
// the governed issuer's requester.
type csrCase struct {
	Name string `json:"name"`
	Why  string `json:"why"`
	// File is a PEM file under csr/; Generate describes an input too large to commit.
	File     string     `json:"file,omitempty"`
	Generate *generated `json:"generate,omitempty"`
	// Usages replaces the default usages when set, even to an empty list.
	Usages            []string `json:"usages,omitempty"`
	ExpirationSeconds *int32   `json:"expirationSeconds,omitempty"`
	Want              outcome  `json:"want"`
}

// generated describes a request made at run time: a fresh ECDSA key, and either this many DNS
// names under example.com or a common name of this many bytes.
type generated struct {
	DNSNames        int `json:"dnsNames,omitempty"`
	CommonNameBytes int `json:"commonNameBytes,omitempty"`
}

// annotationCase is an annotation on an otherwise good CSR. Governed is the outcome under the
// Automatic policy (the approval controller judges it); Person is the outcome when the CSR goes
// to an issuer no policy governs and a person approves it (the signing gate judges it).
type annotationCase struct {
	Name string `json:"name"`
	Why  string `json:"why"`
	Key  string `json:"key"`
	// Value is repeated Repeat times when Repeat is set.
	Value    string  `json:"value"`
	Repeat   int     `json:"repeat,omitempty"`
	Governed outcome `json:"governed"`
	Person   outcome `json:"person"`
}

func (c annotationCase) value() string {
	if c.Repeat == 0 {
		return c.Value
	}
	b := make([]byte, 0, len(c.Value)*c.Repeat)
	for range c.Repeat {
		b = append(b, c.Value...)
	}
	return string(b)
}

// signerNameCase is a spec.signerName on an otherwise good CSR.
type signerNameCase struct {
	Name       string  `json:"name"`
	Why        string  `json:"why"`
	SignerName string  `json:"signerName"`
	Want       outcome `json:"want"`
}

// policyCase is a SignerPolicy at the edge of validation.
type policyCase struct {
	Name   string         `json:"name"`
	Why    string         `json:"why"`
	Policy map[string]any `json:"policy"`
	Want   outcome        `json:"want"`
}

// corpusDir is test/testdata/badinput.
func corpusDir(t testing.TB) string {
	t.Helper()
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "test", "testdata", "badinput")
}

// load decodes one manifest of the corpus into out.
func load(t testing.TB, name string, out any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(corpusDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, out); err != nil {
		t.Fatalf("decoding %s: %v", name, err)
	}
}

// readPEM reads a committed request of the corpus.
func readPEM(t testing.TB, file string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(corpusDir(t), "csr", file))
	if err != nil {
		t.Fatal(err)
	}
	return data
}
