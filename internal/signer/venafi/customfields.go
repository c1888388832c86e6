package venafi

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/Venafi/vcert/v5/pkg/certificate"
	venafiapi "github.com/cert-manager/cert-manager/pkg/issuer/venafi/client/api"
)

// parseCustomFields reads the custom-fields annotation: a JSON list of objects with "name",
// "value" and an optional "type", as cert-manager defines it. cert-manager supports only the
// "Plain" type (an empty type means Plain), and so does this signer.
//
// Beyond cert-manager, an entry without a name is refused: TPP files custom fields by name, so a
// nameless one would be dropped silently, and the requester would never learn that the field
// they meant to set (perhaps with a misspelt "name" key) was not sent.
//
// Custom fields reach TPP only; vcert's Venafi Cloud connector sends none, and neither did
// cert-manager's controller.
func parseCustomFields(annotation string) ([]certificate.CustomField, error) {
	if strings.TrimSpace(annotation) == "" {
		return nil, nil
	}
	var fields []venafiapi.CustomField
	if err := json.Unmarshal([]byte(annotation), &fields); err != nil {
		return nil, fmt.Errorf(`is not a JSON list of {"name": ..., "value": ..., "type": "Plain"} objects: %v`, err)
	}
	out := make([]certificate.CustomField, 0, len(fields))
	for i, f := range fields {
		switch f.Type {
		case venafiapi.CustomFieldTypePlain, "":
		default:
			return nil, fmt.Errorf("entry %d (%q) has type %q; the only supported type is %q", i, f.Name, f.Type, venafiapi.CustomFieldTypePlain)
		}
		if f.Name == "" {
			return nil, fmt.Errorf("entry %d has no name", i)
		}
		out = append(out, certificate.CustomField{Type: certificate.CustomFieldPlain, Name: f.Name, Value: f.Value})
	}
	return out, nil
}
