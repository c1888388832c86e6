package csr

import "encoding/asn1"

// OIDEmailAddress is PKCS #9's emailAddress subject attribute. pkix.Name keeps it only in Names,
// so policy and signing each look for it there, and both govern it as an email address.
var OIDEmailAddress = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
