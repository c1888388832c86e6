package policy

import (
	"strings"
	"testing"
)

// A spec.signerNames entry never captures a cert-manager signer name, and covers a name only in
// its own domain, whatever either holds.
func FuzzSignerNameMatches(f *testing.F) {
	f.Add("example.com/*", "example.com/mesh")
	f.Add("issuers.cert-manager.io/*", "issuers.cert-manager.io/ns.ca")
	f.Add("*", "clusterissuers.cert-manager.io/x")
	f.Add("kubernetes.io/kubelet-serving", "kubernetes.io/kubelet-serving")
	f.Fuzz(func(t *testing.T, pattern, signerName string) {
		if !SignerNameMatches(pattern, signerName) {
			return
		}
		if IsCertManagerSigner(signerName) {
			t.Errorf("%q captured the cert-manager signer name %q", pattern, signerName)
		}
		domain, _, _ := strings.Cut(signerName, "/")
		if patternDomain, _, _ := strings.Cut(pattern, "/"); patternDomain != domain {
			t.Errorf("%q covers %q of another domain", pattern, signerName)
		}
		keys := SignerNameKeys(signerName)
		if !strings.Contains(strings.Join(keys, "\n")+"\n", pattern+"\n") {
			t.Errorf("%q covers %q but is none of its index keys %q", pattern, signerName, keys)
		}
	})
}

// A username names a node only in the form the Node authorizer reads, with a name a Node could
// have.
func FuzzNodeName(f *testing.F) {
	f.Add("system:node:n1")
	f.Add("system:node:")
	f.Add("system:serviceaccount:kube-system:node")
	f.Fuzz(func(t *testing.T, username string) {
		name, ok := NodeName(username)
		if !ok {
			return
		}
		if username != nodeUsernamePrefix+name || dnsNameProblem(name, false) != "" {
			t.Errorf("NodeName(%q) = %q, which is not the node the username names", username, name)
		}
	})
}
