package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// The demo makes every key, request and CA in Go, so it needs no openssl.

func newKey(curve elliptic.Curve) (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(curve, rand.Reader)
}

func keyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func requestPEM(key crypto.Signer, tmpl *x509.CertificateRequest) ([]byte, error) {
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// newCA makes a self-signed root for the team's CA Issuer, returning its certificate and key
// as PEM, the way they would sit in a kubernetes.io/tls Secret.
func newCA(commonName string) (certPEM, keyBytes []byte, err error) {
	key, err := newKey(elliptic.P256())
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: commonName},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, err
	}
	keyBytes, err = keyPEM(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyBytes, err
}

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
