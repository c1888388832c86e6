// Package pebble runs the ACME peers the ACME signer is tested against, as local processes on
// loopback: Pebble (Let's Encrypt's ACME test server, installed from the Go module proxy at the
// version below), a DNS server that Pebble resolves through and that accepts RFC 2136 updates,
// and a reverse proxy in front of Pebble that counts the account and order requests.
package pebble

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Version is the Pebble release the tests run.
const Version = "v2.10.1"

// Install makes sure bin/peers/pebble exists under the module root, building it with
// `go install` from the module proxy when it does not, and returns its path.
func Install(moduleRoot string) (string, error) {
	dir := filepath.Join(moduleRoot, "bin", "peers")
	bin := filepath.Join(dir, "pebble")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	cmd := exec.Command("go", "install", "github.com/letsencrypt/pebble/v2/cmd/pebble@"+Version)
	// Outside any module, so the operator's go.mod neither constrains nor records Pebble's
	// dependencies.
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("installing pebble %s: %w\n%s", Version, err, out)
	}
	return bin, nil
}
