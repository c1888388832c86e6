package main

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
)

// describeCertificate prints what a requester checks in the certificate they got.
func describeCertificate(chain []byte) (string, error) {
	block, _ := pem.Decode(chain)
	if block == nil {
		return "", errors.New("status.certificate holds no PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "", err
	}
	var sans []string
	sans = append(sans, cert.DNSNames...)
	for _, ip := range cert.IPAddresses {
		sans = append(sans, ip.String())
	}
	sans = append(sans, cert.EmailAddresses...)
	for _, u := range cert.URIs {
		sans = append(sans, u.String())
	}
	var b strings.Builder
	subject := cert.Subject.String()
	if subject == "" {
		subject = "(empty: the names are in the SANs)"
	}
	fmt.Fprintf(&b, "  subject:    %s\n", subject)
	if len(sans) > 0 {
		fmt.Fprintf(&b, "  SANs:       %s\n", strings.Join(sans, ", "))
	}
	fmt.Fprintf(&b, "  issuer:     %s\n", cert.Issuer)
	fmt.Fprintf(&b, "  serial:     %s\n", cert.SerialNumber.Text(16))
	fmt.Fprintf(&b, "  CA:         %t\n", cert.IsCA)
	fmt.Fprintf(&b, "  valid:      %s to %s (%s)\n", cert.NotBefore.UTC().Format(time.RFC3339),
		cert.NotAfter.UTC().Format(time.RFC3339), cert.NotAfter.Sub(cert.NotBefore).Round(time.Hour))
	return b.String(), nil
}
