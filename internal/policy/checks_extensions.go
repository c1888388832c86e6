package policy

import (
	"crypto/x509"
	"encoding/asn1"
	"fmt"

	"github.com/cert-manager/cert-manager/pkg/util/pki"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var (
	oidExtensionSubjectAltName       = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidExtensionSubjectKeyIdentifier = asn1.ObjectIdentifier{2, 5, 29, 14}
)

// GeneralName choices of a subjectAltName (RFC 5280, 4.2.1.6), by context-specific tag.
const (
	sanOtherName     = 0
	sanEmail         = 1
	sanDNS           = 2
	sanX400Address   = 3
	sanDirectoryName = 4
	sanEDIPartyName  = 5
	sanURI           = 6
	sanIP            = 7
	sanRegisteredID  = 8
)

// checkExtensions refuses what no policy field can grant. The signer issues only what the policy
// decided and copies nothing from the CSR, so granting such a request would silently drop part
// of it; refusing it tells the requester instead.
func checkExtensions(f *facts) field.ErrorList {
	return f.ungovernedExtensions
}

// subjectAltNames are the names a CSR's subjectAltName extension requests, as the requester
// encoded them. IP addresses are left to crypto/x509, which reads them from the same bytes.
type subjectAltNames struct {
	dnsNames, emails, uris []requestedValue
}

// extensionsOf reads the names the CSR's subjectAltName extension requests, and refuses every
// other extension but those the policy's usages and allowCA decide and the subject key identifier
// the signer computes itself.
func extensionsOf(csr *x509.CertificateRequest) (subjectAltNames, field.ErrorList) {
	var sans subjectAltNames
	var refused field.ErrorList
	for _, e := range csr.Extensions {
		switch {
		case e.Id.Equal(oidExtensionSubjectAltName):
			refused = append(refused, sans.read(e.Value)...)
		case e.Id.Equal(pki.OIDExtensionKeyUsage), e.Id.Equal(pki.OIDExtensionExtendedKeyUsage),
			e.Id.Equal(pki.OIDExtensionBasicConstraints), e.Id.Equal(oidExtensionSubjectKeyIdentifier):
			// checkUsages and checkCA hold these to the request; the signer writes its own.
		default:
			refused = append(refused, field.Forbidden(requestPath(),
				fmt.Sprintf("the CSR asks for the %s extension, which no SignerPolicy field governs", extensionName(e.Id))))
		}
	}
	return sans, refused
}

// read walks the GeneralNames itself rather than trusting crypto/x509's lists, which skip every
// entry of a type they do not know: such an entry must be refused, not dropped.
func (s *subjectAltNames) read(der []byte) field.ErrorList {
	var seq asn1.RawValue
	rest, err := asn1.Unmarshal(der, &seq)
	if err != nil || len(rest) > 0 || seq.Class != asn1.ClassUniversal || seq.Tag != asn1.TagSequence || !seq.IsCompound {
		return field.ErrorList{unreadableSANs()}
	}
	var refused field.ErrorList
	for entries := seq.Bytes; len(entries) > 0; {
		var name asn1.RawValue
		if entries, err = asn1.Unmarshal(entries, &name); err != nil {
			return append(refused, unreadableSANs())
		}
		if e := s.add(name); e != nil {
			refused = append(refused, e)
		}
	}
	return refused
}

func (s *subjectAltNames) add(name asn1.RawValue) *field.Error {
	if name.Class != asn1.ClassContextSpecific {
		return refusedSAN("an entry that is not a GeneralName")
	}
	primitive := !name.IsCompound
	switch {
	case name.Tag == sanEmail && primitive:
		s.emails = append(s.emails, emailValue(string(name.Bytes)))
	case name.Tag == sanDNS && primitive:
		s.dnsNames = append(s.dnsNames, dnsNameValue(string(name.Bytes)))
	case name.Tag == sanURI && primitive:
		s.uris = append(s.uris, uriValue(string(name.Bytes)))
	case name.Tag == sanIP && primitive:
		// Read by crypto/x509 into csr.IPAddresses from these same bytes.
	default:
		return refusedSAN(generalNameType(name.Tag))
	}
	return nil
}

func generalNameType(tag int) string {
	switch tag {
	case sanOtherName:
		return "an otherName"
	case sanX400Address:
		return "an x400Address"
	case sanDirectoryName:
		return "a directoryName"
	case sanEDIPartyName:
		return "an ediPartyName"
	case sanRegisteredID:
		return "a registeredID"
	}
	return fmt.Sprintf("an entry of tag [%d] that is not a valid GeneralName", tag)
}

func refusedSAN(what string) *field.Error {
	return field.Forbidden(requestPath(), fmt.Sprintf(
		"the CSR's subjectAltName extension holds %s, a kind of name no SignerPolicy field governs", what))
}

func unreadableSANs() *field.Error {
	return field.Forbidden(requestPath(), "the CSR's subjectAltName extension is not a well-formed list of GeneralNames")
}

// extensionName names the extensions a requester is most likely to try, and any other by OID.
func extensionName(oid asn1.ObjectIdentifier) string {
	id := oid.String()
	switch id {
	case "2.5.29.30":
		return "name constraints (2.5.29.30)"
	case "2.5.29.32":
		return "certificate policies (2.5.29.32)"
	case "2.5.29.35":
		return "authority key identifier (2.5.29.35)"
	case "2.5.29.31":
		return "CRL distribution points (2.5.29.31)"
	case "1.3.6.1.5.5.7.1.1":
		return "authority information access (1.3.6.1.5.5.7.1.1)"
	case "1.3.6.1.5.5.7.1.24":
		return "TLS feature (1.3.6.1.5.5.7.1.24)"
	}
	return id
}

func requestPath() *field.Path {
	return field.NewPath("spec", "request")
}
