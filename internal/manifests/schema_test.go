package manifests

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The committed JSON Schema of SignerPolicy, as an offline validator reads it, accepts every sample
// policy and refuses what the API server would: a misspelt field, a value outside an enum.
func TestCommittedSchemaValidatesPoliciesOffline(t *testing.T) {
	const schemaPath = "../../config/crd/schemas/policy.signerpolicy.dev/signerpolicy_v1alpha1.json"
	data, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("signerpolicy.json", doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("signerpolicy.json")
	if err != nil {
		t.Fatal(err)
	}
	validate := func(yaml string) error {
		objs, err := Decode([]byte(yaml))
		if err != nil || len(objs) != 1 {
			t.Fatalf("decoding %q: %v", yaml, err)
		}
		return schema.Validate(objs[0].Object)
	}

	samples, err := filepath.Glob("../../config/samples/policy_*.yaml")
	if err != nil || len(samples) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	for _, f := range samples {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate(string(data)); err != nil {
			t.Errorf("%s is refused offline: %v", filepath.Base(f), err)
		}
	}
	base := "apiVersion: policy.signerpolicy.dev/v1alpha1\nkind: SignerPolicy\nmetadata: {name: x}\nspec:\n  issuerRef: {kind: ClusterIssuer, name: root}\n  requesters: {users: [alice]}\n"
	for name, tt := range map[string]struct{ extra, mention string }{
		"a misspelt field":   {"  alowed: {dnsNames: [a.example.com]}\n", "alowed"},
		"a mode of no enum":  {"  approval: {mode: Sometimes}\n", "/spec/approval/mode"},
		"a usage of no enum": {"  usages: [world domination]\n", "/spec/usages/0"},
	} {
		if err := validate(base + tt.extra); err == nil || !strings.Contains(err.Error(), tt.mention) {
			t.Errorf("%s: %v, want a refusal mentioning %q", name, err, tt.mention)
		}
	}
	if err := validate(base); err != nil {
		t.Errorf("a plain policy is refused offline: %v", err)
	}
}
