package bundle

import "testing"

func TestDisplayNameIsTheFieldInWords(t *testing.T) {
	for field, want := range map[string]string{
		"usages":             "Usages",
		"privateKey":         "Private key",
		"observedGeneration": "Observed generation",
		"allowCA":            "Allow CA",
		"caBundleRef":        "Ca bundle ref",
		"issuerCAName":       "Issuer CA name",
		"rbac":               "Rbac",
	} {
		if got := displayName(field); got != want {
			t.Errorf("displayName(%q) = %q, want %q", field, got, want)
		}
	}
}
