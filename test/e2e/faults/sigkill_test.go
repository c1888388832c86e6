package faults

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"

	"github.com/signerpolicy/signer-policy-operator/controllers"
	"github.com/signerpolicy/signer-policy-operator/internal/audit"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

// processLogFlags are the shipped Deployment's logging flags (config/manager/manager.yaml). The
// manager's logger samples at this level (per second and message, the first 100 entries and then
// every 100th); the governance records must not be, and with these flags a run once lost 72
// Approved and 37 Issued records of 200 CSRs before main.go gave them a logger of their own.
var processLogFlags = []string{"--zap-encoder=json", "--zap-log-level=info"}

// processConcurrency is the --concurrency the operator processes run with (main.go's default,
// stated so that the bound on records a kill can cost is tied to it).
const processConcurrency = 4

// TestOperatorProcessSIGKILLedThriceMidFlightIssuesOnceAndLosesNoRecord is the restart test with
// a real kill. The operator binary runs as its own process, as in a pod, and is SIGKILLed three
// times while 200 CSRs to a CA Issuer under an Automatic policy are being submitted and worked on:
// no deferred function, no graceful shutdown, and a write that was on the wire may or may not have
// landed. TestManagerKilledTwiceMidFlightIssuesEachCSRExactlyOnce cancels an in-process manager's
// context instead, which lets every reconcile finish its own bookkeeping; a SIGKILL lets none
// finish.
//
// In the API server every CSR must end approved once (one Approved condition), issued once (a
// certificate that verifies to the tenant's CA and carries the CSR's key), and never Failed or
// Denied.
//
// In the governance records, collected from all four processes' JSON logs, every CSR must have at
// least one Approved and one Issued record and no Denied or Failed one, and every copy of a record
// must carry the same recordID and say the same thing (the Issued ones the certificate in status).
// A kill between an API write and the log line of its record is the window records used to be
// lost in; now a process that starts owes, and writes, every record of every CSR that exists, so
// the kill costs a duplicate with an equal recordID, never a lost record. Writing the record
// before the write would instead record writes that never happened.
func TestOperatorProcessSIGKILLedThriceMidFlightIssuesOnceAndLosesNoRecord(t *testing.T) {
	const total = 200
	dir := t.TempDir()
	bin := buildOperator(t, dir)
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	var procs []*operatorProcess
	start := func() *operatorProcess {
		t.Helper()
		p := startOperatorProcess(t, bin, kubeconfig, filepath.Join(dir, fmt.Sprintf("operator-%d.log", len(procs)+1)))
		procs = append(procs, p)
		return p
	}
	current := start()

	tn, run, sub := submitInBackground(t, "requester-sigkill", total)

	// Each kill waits for some progress, so that the process is demonstrably at work (each later
	// one has to have done 60 CSRs after the kill before it), then kills it without warning.
	for kill, progress := range []int{20, 80, 140} {
		waitDoneAlive(t, run, progress, current, 2*time.Minute)
		current.kill(t)
		// Counted after the kill: whatever was done by then was done by a process now dead.
		_, doneNow, err := listRun(env, run)
		if err != nil {
			t.Fatal(err)
		}
		submittedNow := sub.created.Load()
		t.Logf("kill %d at %s: SIGKILLed pid %d after %s; %d of %d CSRs done, %d submitted", kill+1, current.killed.Format("15:04:05.000"),
			current.cmd.Process.Pid, current.killed.Sub(current.started).Round(time.Millisecond), doneNow, total, submittedNow)
		if doneNow >= total {
			t.Fatalf("kill %d came after every CSR was done, so nothing was in flight", kill+1)
		}
		current = start()
	}
	if err := <-sub.done; err != nil {
		t.Fatal(err)
	}
	items := waitDoneAlive(t, run, total, current, 2*time.Minute)
	t.Logf("all %d CSRs done %s after the first was submitted", total, time.Since(sub.began).Round(time.Millisecond))
	if len(items) != total {
		t.Fatalf("%d CSRs listed, want %d", len(items), total)
	}
	leaves := map[string]*x509.Certificate{}
	for i := range items {
		if leaf := verifyIssuedInAPI(t, &items[i], tn.root); leaf != nil {
			leaves[items[i].Name] = leaf
		}
	}
	// The last process writes what the killed ones owed as it works through the CSRs that exist;
	// every record must show up in the logs while it runs, and then it is stopped as a pod is.
	var records map[string][]audit.Record
	missing := func() []string {
		records = map[string][]audit.Record{}
		for _, p := range procs {
			for _, r := range p.auditRecords(t) {
				records[r.CSR] = append(records[r.CSR], r)
			}
		}
		var out []string
		for i := range items {
			c := &items[i]
			for _, event := range []string{audit.EventApproved, audit.EventIssued} {
				if !slices.ContainsFunc(records[c.Name], func(r audit.Record) bool { return r.CSRUID == string(c.UID) && r.Event == event }) {
					out = append(out, c.Name+" "+event)
				}
			}
		}
		return out
	}
	harness.Eventually(t, time.Minute, func() error {
		if m := missing(); len(m) > 0 {
			return fmt.Errorf("%d governance records missing: %v", len(m), m)
		}
		return nil
	})
	current.terminate(t)

	duplicates := 0
	for i := range items {
		c := &items[i]
		byEvent := map[string][]audit.Record{}
		for _, r := range records[c.Name] {
			if r.CSRUID == string(c.UID) {
				byEvent[r.Event] = append(byEvent[r.Event], r)
			}
		}
		if len(byEvent[audit.EventDenied]) > 0 || len(byEvent[audit.EventFailed]) > 0 {
			t.Errorf("CSR %s: Denied or Failed records %+v", c.Name, append(byEvent[audit.EventDenied], byEvent[audit.EventFailed]...))
		}
		for event, copies := range byEvent {
			duplicates += len(copies) - 1
			for _, r := range copies {
				if r.RecordID != audit.RecordID(string(c.UID), event) {
					t.Errorf("CSR %s: a copy of its %s record has recordID %s, want %s", c.Name, event, r.RecordID, audit.RecordID(string(c.UID), event))
				}
				switch event {
				case audit.EventApproved:
					if r.Policy != tn.policy || r.Reason != controllers.ReasonApproved {
						t.Errorf("CSR %s: Approved record names policy %q and reason %q, want %q and %s", c.Name, r.Policy, r.Reason, tn.policy, controllers.ReasonApproved)
					}
				case audit.EventIssued:
					leaf := leaves[c.Name]
					if leaf == nil || r.Certificate == nil || r.Certificate.Serial != leaf.SerialNumber.Text(16) || r.Certificate.SHA256Fingerprint != fingerprint(leaf) {
						t.Errorf("CSR %s: Issued record names certificate %+v, status holds another", c.Name, r.Certificate)
					}
				}
			}
		}
	}
	t.Logf("no governance record lost across %d kills; %d duplicates, each with its original's recordID", len(procs)-1, duplicates)
}

// verifyIssuedInAPI checks what the API server holds for a CSR: never refused, approved once, and
// a certificate signed by root for the CSR's own key.
// It returns the certificate, or nil when there is none to check the records against.
func verifyIssuedInAPI(t *testing.T, c *certificatesv1.CertificateSigningRequest, root *testpki.CA) *x509.Certificate {
	t.Helper()
	if cond := refusal(c); cond != nil {
		t.Errorf("CSR %s is %s (%s): %s", c.Name, cond.Type, cond.Reason, cond.Message)
		return nil
	}
	if n := approvals(c); n != 1 {
		t.Errorf("CSR %s has %d Approved conditions, want 1", c.Name, n)
		return nil
	}
	if len(c.Status.Certificate) == 0 {
		t.Errorf("CSR %s has no certificate", c.Name)
		return nil
	}
	leaf := testpki.ParseChain(t, c.Status.Certificate)[0]
	if err := leaf.CheckSignatureFrom(root.Cert); err != nil {
		t.Errorf("CSR %s: certificate not signed by the tenant's CA: %v", c.Name, err)
	}
	block, _ := pem.Decode(c.Spec.Request)
	if block == nil {
		t.Fatalf("CSR %s: spec.request is not PEM", c.Name)
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		t.Fatalf("CSR %s: %v", c.Name, err)
	}
	if pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(req.PublicKey) {
		t.Errorf("CSR %s: certificate does not carry the CSR's key", c.Name)
	}
	return leaf
}

func fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}

// waitDoneAlive is waitDone that also fails at once when the operator process has died on its
// own: a crash is a finding, not something to wait out.
func waitDoneAlive(t *testing.T, run string, want int, p *operatorProcess, timeout time.Duration) []certificatesv1.CertificateSigningRequest {
	t.Helper()
	return waitDoneGuarded(t, env, run, want, timeout, func() {
		select {
		case <-p.exited:
			t.Fatalf("operator process %d exited on its own (%v); its log:\n%s", p.cmd.Process.Pid, p.waitErr, p.tail())
		default:
		}
	})
}

// buildOperator builds the operator binary from the module root, as `make build` would. Only
// one test runs the binary, so building it into that test's TempDir builds it once per run and
// leaves nothing behind (the Go build cache makes it a link of a few seconds).
func buildOperator(t *testing.T, dir string) string {
	t.Helper()
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "manager")
	began := time.Now()
	cmd := exec.Command("go", "build", "-o", bin, "github.com/signerpolicy/signer-policy-operator")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the operator: %v\n%s", err, out)
	}
	t.Logf("built the operator in %s", time.Since(began).Round(time.Millisecond))
	return bin
}

// operatorProcess is the operator binary running as its own process, logging JSON to a file.
type operatorProcess struct {
	cmd     *exec.Cmd
	logPath string
	started time.Time
	// killed is when a SIGKILL ended the process; zero for one that was stopped gracefully.
	killed  time.Time
	exited  chan struct{}
	waitErr error
}

// startOperatorProcess starts the operator as main.go runs it in a pod, against the shared
// control plane with the admin's kubeconfig, logging JSON (see processLogFlags) and with no
// listeners the test would have to allocate ports for.
func startOperatorProcess(t *testing.T, bin, kubeconfig, logPath string) *operatorProcess {
	t.Helper()
	log, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--kubeconfig", kubeconfig,
		"--metrics-bind-address", "0", "--metrics-secure=false", "--health-probe-bind-address", "0",
		"--cluster-resource-namespace", clusterResourceNamespace, "--acme-http01-bind-address", "127.0.0.1:0",
		"--concurrency", strconv.Itoa(processConcurrency))
	cmd.Args = append(cmd.Args, processLogFlags...)
	cmd.Stdout, cmd.Stderr = log, log
	p := &operatorProcess{cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		t.Fatalf("starting the operator: %v", err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		_ = log.Close()
		close(p.exited)
	}()
	// A test that fails before its kills must not leave an operator running against the control
	// plane the next test shares.
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.exited
	})
	return p
}

// kill sends SIGKILL and waits for the process to be gone, so that its successor never overlaps
// with it (there is no leader election to keep two apart).
func (p *operatorProcess) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatalf("killing the operator: %v", err)
	}
	p.killed = time.Now()
	<-p.exited
}

// terminate stops the process as Kubernetes stops a pod, with SIGTERM, and waits for it.
func (p *operatorProcess) terminate(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("stopping the operator: %v", err)
	}
	select {
	case <-p.exited:
	case <-time.After(time.Minute):
		t.Fatalf("the operator did not stop within a minute of SIGTERM; its log:\n%s", p.tail())
	}
}

// auditRecords reads the governance records from the process's JSON log: the entries of the
// logger named "audit". A line that does not parse is tolerated only as the last line of a
// killed process's log, where the kill may have cut a write short; any other garbled entry that
// looks like a record fails the test, since the records are what the test judges.
func (p *operatorProcess) auditRecords(t *testing.T) []audit.Record {
	t.Helper()
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Record
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		var entry struct {
			Logger string        `json:"logger"`
			Record *audit.Record `json:"record"`
		}
		if err := json.Unmarshal(line, &entry); err != nil {
			last := !bytes.HasSuffix(data, []byte("\n")) && bytes.HasSuffix(data, line)
			if bytes.Contains(line, []byte(`"audit"`)) && !(last && !p.killed.IsZero()) {
				t.Errorf("%s line %d: garbled audit entry: %v\n%s", filepath.Base(p.logPath), n, err, line)
			} else if last {
				t.Logf("%s: the kill cut the last line short: %.200s", filepath.Base(p.logPath), line)
			}
			continue
		}
		if entry.Logger != "audit" {
			continue
		}
		if entry.Record == nil {
			t.Errorf("%s line %d: an audit entry without a record: %s", filepath.Base(p.logPath), n, line)
			continue
		}
		out = append(out, *entry.Record)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading %s: %v", p.logPath, err)
	}
	t.Logf("%s: %d governance records", filepath.Base(p.logPath), len(out))
	return out
}

// tail is the end of the process's log, for failure messages.
func (p *operatorProcess) tail() string {
	data, _ := os.ReadFile(p.logPath)
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return string(data)
}
