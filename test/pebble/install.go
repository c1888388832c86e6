// Package pebble runs the ACME peers the ACME signer is tested against, as local processes on
// loopback: Pebble (Let's Encrypt's ACME test server) and pebble-challtestsrv (the DNS server
// Pebble resolves identifiers through), both installed from the Go module proxy at the version
// below; an RFC 2136 nameserver that publishes the TXT records it is sent into
// pebble-challtestsrv; and a reverse proxy in front of Pebble that counts the account and order
// requests.
package pebble

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Version is the Pebble release the tests run, for both commands.
const Version = "v2.10.1"

// Binaries are the installed executables.
type Binaries struct {
	Pebble       string
	ChallTestSrv string
}

// Install makes sure bin/peers/pebble and bin/peers/pebble-challtestsrv exist under the module
// root, building the missing ones with `go install` from the module proxy, and returns their
// paths.
func Install(moduleRoot string) (Binaries, error) {
	dir := filepath.Join(moduleRoot, "bin", "peers")
	bins := Binaries{Pebble: filepath.Join(dir, "pebble"), ChallTestSrv: filepath.Join(dir, "pebble-challtestsrv")}
	var missing []string
	for _, bin := range []string{bins.Pebble, bins.ChallTestSrv} {
		if _, err := os.Stat(bin); err != nil {
			missing = append(missing, "github.com/letsencrypt/pebble/v2/cmd/"+filepath.Base(bin)+"@"+Version)
		}
	}
	if len(missing) == 0 {
		return bins, nil
	}
	cmd := exec.Command("go", append([]string{"install"}, missing...)...)
	// Outside any module, so the operator's go.mod neither constrains nor records Pebble's
	// dependencies.
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return Binaries{}, fmt.Errorf("installing %v: %w\n%s", missing, err, out)
	}
	return bins, nil
}
