package vault

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"

	"github.com/cert-manager/cert-manager/pkg/util/pki"
	vaultapi "github.com/hashicorp/vault/api"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// signParameters are the body of the PKI sign call, as cert-manager sends them: the PKCS#10
// request the gate judged, its common name and SANs spelled out for roles that do not take them from
// the CSR (use_csr_common_name, use_csr_sans), and the lifetime the gate decided. The common name
// stays out of the SANs: the requester chose which names to ask for.
func signParameters(req signer.Request) map[string]any {
	p := req.Parsed
	return map[string]any{
		"csr":                  string(req.RequestPEM()),
		"common_name":          p.Subject.CommonName,
		"alt_names":            strings.Join(p.DNSNames, ","),
		"ip_sans":              strings.Join(pki.IPAddressesToString(p.IPAddresses), ","),
		"uri_sans":             strings.Join(pki.URLsToString(p.URIs), ","),
		"ttl":                  req.Duration.String(),
		"exclude_cn_from_sans": "true",
	}
}

// chainFromResponse checks what Vault returned and turns it into status.certificate: the leaf,
// then the intermediates up to but excluding a self-signed root, as cert-manager does.
//
// Vault is trusted to sign, not to answer for this CSR: the leaf must carry the CSR's public key,
// the basic constraints the gate allowed, and no name the CSR did not ask for, and the chain must
// be one chain ending at the leaf. A response that fails is permanent ErrorSigning, because Vault
// already issued that certificate and would issue the same again.
func chainFromResponse(secret *vaultapi.Secret, req signer.Request, iss issuerName) (signer.PEMChain, error) {
	leafPEM, _ := secret.Data["certificate"].(string)
	if leafPEM == "" {
		return nil, invalidResponse(iss, "data.certificate is missing")
	}
	leafCerts, err := pki.DecodeX509CertificateChainBytes([]byte(leafPEM))
	if err != nil {
		return nil, invalidResponse(iss, "data.certificate: %v", err)
	}
	leaf := leafCerts[0]
	if err := checkLeaf(leaf, req); err != nil {
		return nil, invalidResponse(iss, "%v", err)
	}
	certs, err := responseCertificates(secret, leafCerts)
	if err != nil {
		return nil, invalidResponse(iss, "%v", err)
	}
	bundle, err := pki.ParseSingleCertificateChain(certs)
	if err != nil {
		return nil, invalidResponse(iss, "data.certificate, data.issuing_ca and data.ca_chain: %v", err)
	}
	first, err := pki.DecodeX509CertificateBytes(bundle.ChainPEM)
	if err != nil || !bytes.Equal(first.Raw, leaf.Raw) {
		return nil, invalidResponse(iss, "data.certificate is not the end of the chain Vault returned")
	}
	return signer.PEMChain(bundle.ChainPEM), nil
}

// responseCertificates decodes the leaf and every CA certificate of the response; the chain parser
// puts them in order and drops duplicates (Vault repeats the issuing CA in ca_chain).
func responseCertificates(secret *vaultapi.Secret, leafCerts []*x509.Certificate) ([]*x509.Certificate, error) {
	var pems []string
	if ca, ok := secret.Data["issuing_ca"].(string); ok && ca != "" {
		pems = append(pems, ca)
	}
	if chain, ok := secret.Data["ca_chain"].([]any); ok {
		for _, c := range chain {
			if s, ok := c.(string); ok && s != "" {
				pems = append(pems, s)
			}
		}
	}
	certs := slices.Clone(leafCerts)
	for _, p := range pems {
		decoded, err := pki.DecodeX509CertificateChainBytes([]byte(p))
		if err != nil {
			return nil, fmt.Errorf("data.issuing_ca or data.ca_chain: %v", err)
		}
		certs = append(certs, decoded...)
	}
	return certs, nil
}

// checkLeaf holds the issued certificate to the request.
func checkLeaf(leaf *x509.Certificate, req signer.Request) error {
	if ok, err := pki.PublicKeyMatchesCSR(leaf.PublicKey, req.Parsed); err != nil || !ok {
		return fmt.Errorf("the certificate's public key is not the CSR's")
	}
	if leaf.IsCA != req.IsCA {
		return fmt.Errorf("the certificate has isCA=%t, the request asked for isCA=%t", leaf.IsCA, req.IsCA)
	}
	if extra := unrequestedNames(leaf, req.Parsed); len(extra) > 0 {
		return fmt.Errorf("the certificate names %s, which the CSR did not request", strings.Join(extra, ", "))
	}
	return nil
}

// unrequestedNames lists the SANs of cert that the CSR did not ask for. The CSR's common name
// counts as requested for DNS and email names, since a role may copy it into the SANs.
func unrequestedNames(cert *x509.Certificate, csr *x509.CertificateRequest) []string {
	fold := func(names ...[]string) map[string]bool {
		m := map[string]bool{}
		for _, list := range names {
			for _, n := range list {
				m[strings.ToLower(n)] = true
			}
		}
		return m
	}
	cn := []string{csr.Subject.CommonName}
	dns, emails := fold(csr.DNSNames, cn), fold(csr.EmailAddresses, cn)
	var extra []string
	for _, n := range cert.DNSNames {
		if !dns[strings.ToLower(n)] {
			extra = append(extra, "DNS:"+n)
		}
	}
	for _, n := range cert.EmailAddresses {
		if !emails[strings.ToLower(n)] {
			extra = append(extra, "email:"+n)
		}
	}
	for _, ip := range cert.IPAddresses {
		if !slices.ContainsFunc(csr.IPAddresses, ip.Equal) {
			extra = append(extra, "IP:"+ip.String())
		}
	}
	uris := pki.URLsToString(csr.URIs)
	for _, u := range cert.URIs {
		if !slices.Contains(uris, u.String()) {
			extra = append(extra, "URI:"+u.String())
		}
	}
	return extra
}
