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

// TestOperatorProcessSIGKILLedTwiceMidFlightIssuesEachCSRExactlyOnce is the restart test with a
// real kill. The operator binary runs as its own process, as in a pod, and is SIGKILLed twice
// while 200 CSRs to a CA Issuer under an Automatic policy are being submitted and worked on: no
// deferred function, no graceful shutdown, and a write that was on the wire may or may not have
// landed. TestManagerKilledTwiceMidFlightIssuesEachCSRExactlyOnce cancels an in-process
// manager's context instead, which lets every reconcile finish its own bookkeeping (landed's
// re-read deliberately survives the cancellation); a SIGKILL lets none finish.
//
// In the API server every CSR must end approved once (one Approved condition), issued once (a
// certificate that verifies to the tenant's CA and carries the CSR's key, with its serial in the
// serial annotation), and never Failed or Denied.
//
// In the governance records, collected from all three processes' JSON logs, every CSR must have
// no Denied or Failed record, at most one Approved and at most one Issued record, and the Issued
// record must name the certificate in status. Exactly one of each is what the design guarantees
// for every CSR except those a kill caught inside a window it cannot close: each record is logged
// after the API write it reports, and a SIGKILL between the two leaves the write and loses the
// record.
//   - Approved: decide() writes the Approved condition through /approval, then logs. A kill after
//     the write landed and before the log line leaves an approved CSR, which the next process's
//     approval controller skips (it is no longer pending); nothing records a decision late.
//   - Issued: issue() writes status.certificate, then recordIssuance() patches the serial,
//     fingerprint and claim annotations, then logs. A kill between the status write and the patch
//     is covered: the next process finds the CSR issued and unmarked and recordLateIssuance writes
//     the record (the "recorded late when owed" path). A kill after the patch landed and before
//     the log line is not: the annotations say "recorded", so no one records it again (the
//     comment on recordIssuance names this window).
//
// Each window runs from the moment the API server commits the write (not when the operator sees
// the response) to the log line, so it is wide enough to be hit: on a 2-core machine every run
// lost one to three records of each kind, always of CSRs in flight at a kill. Closing it needs a
// record that can be written again after a crash and deduplicated, or a marker written before
// the record and cleared after it; logging before the write would trade a lost record for a
// record of a write that never happened. Never twice holds: a record follows only a write that
// landed, the approval's Update and the annotation's optimistic-lock Patch carry the
// resourceVersion the writer read, so a second writer from a stale view conflicts, and a new
// process lists the CSRs afresh, after the killed one is gone.
//
// So a missing record is accepted only where it can be explained: the decision or the signature
// (approval condition time, certificate notBefore) falls in the life of a process that was then
// killed, and there are at most --concurrency such CSRs per controller per kill, since each
// worker is in at most one window when the kill comes. A record missing for anything decided by
// the process that was stopped gracefully, or more missing than the kills can account for, or any
// record written twice, fails the test.
func TestOperatorProcessSIGKILLedTwiceMidFlightIssuesEachCSRExactlyOnce(t *testing.T) {
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

	// Each kill waits for some progress, so that the process is demonstrably at work (the second
	// one has to have done the 80 CSRs after the first kill), then kills it without warning.
	for kill, progress := range []int{20, 100} {
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
	// The last process is stopped gracefully so that a record it owes for the last CSR (logged
	// just after the annotation that makes the CSR look done) is in its log before it is read.
	current.terminate(t)
	if len(items) != total {
		t.Fatalf("%d CSRs listed, want %d", len(items), total)
	}

	records := map[string][]audit.Record{}
	for _, p := range procs {
		for _, r := range p.auditRecords(t) {
			records[r.CSR] = append(records[r.CSR], r)
		}
	}
	// killedLife reports whether t falls in the life of a killed process. Condition times and
	// notBefore have whole seconds, so each life starts at the second its process started in.
	killedLife := func(at time.Time) (kill int) {
		for i, p := range procs {
			if !p.killed.IsZero() && !at.Before(p.started.Truncate(time.Second)) && !at.After(p.killed) {
				return i + 1
			}
		}
		return 0
	}
	var missingApproved, missingIssued []string
	for i := range items {
		c := &items[i]
		leaf := verifyIssuedInAPI(t, c, tn.root)
		if leaf == nil {
			continue
		}
		count := map[string]int{}
		for _, r := range records[c.Name] {
			if r.CSRUID != string(c.UID) {
				continue
			}
			count[r.Event]++
			switch r.Event {
			case audit.EventApproved:
				if r.Policy != tn.policy {
					t.Errorf("CSR %s: Approved record names policy %q, want %q", c.Name, r.Policy, tn.policy)
				}
			case audit.EventIssued:
				if r.Certificate == nil || r.Certificate.Serial != leaf.SerialNumber.Text(16) || r.Certificate.SHA256Fingerprint != fingerprint(leaf) {
					t.Errorf("CSR %s: Issued record names certificate %+v, status holds serial %s", c.Name, r.Certificate, leaf.SerialNumber.Text(16))
				}
			}
		}
		if count[audit.EventApproved] > 1 || count[audit.EventIssued] > 1 || count[audit.EventDenied] != 0 || count[audit.EventFailed] != 0 {
			t.Errorf("CSR %s: governance records %v, want at most one Approved and one Issued, no Denied or Failed", c.Name, count)
		}
		if count[audit.EventApproved] == 0 {
			approved := harness.Condition(c, certificatesv1.CertificateApproved).LastUpdateTime.Time
			kill := killedLife(approved)
			if kill == 0 {
				t.Errorf("CSR %s: no Approved record, and it was approved at %s, when no process was about to be killed", c.Name, approved.Format(time.RFC3339))
			}
			missingApproved = append(missingApproved, fmt.Sprintf("%s (approved %s, kill %d)", c.Name, approved.Format(time.TimeOnly), kill))
		}
		if count[audit.EventIssued] == 0 {
			kill := killedLife(leaf.NotBefore)
			if kill == 0 {
				t.Errorf("CSR %s: no Issued record, and its certificate was signed at %s, when no process was about to be killed", c.Name, leaf.NotBefore.Format(time.RFC3339))
			}
			missingIssued = append(missingIssued, fmt.Sprintf("%s (signed %s, kill %d)", c.Name, leaf.NotBefore.Format(time.TimeOnly), kill))
		}
	}
	kills := len(procs) - 1
	t.Logf("governance records lost to the kills: %d Approved %v, %d Issued %v", len(missingApproved), missingApproved, len(missingIssued), missingIssued)
	if len(missingApproved) > kills*processConcurrency || len(missingIssued) > kills*processConcurrency {
		t.Errorf("%d Approved and %d Issued records missing: %d kills of processes with %d workers per controller can lose at most %d of each",
			len(missingApproved), len(missingIssued), kills, processConcurrency, kills*processConcurrency)
	}
}

// verifyIssuedInAPI checks what the API server holds for a CSR: never refused, approved once,
// a certificate signed by root for the CSR's own key, and its serial in the serial annotation.
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
	if got, serial := c.Annotations[controllers.SerialAnnotation], leaf.SerialNumber.Text(16); got != serial {
		t.Errorf("CSR %s: serial annotation %q, certificate serial %q", c.Name, got, serial)
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
