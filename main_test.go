package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signerpolicy/signer-policy-operator/internal/audit"
)

// --audit-log-path writes every record as a JSON line of its own to the file, and rotates it at
// --audit-log-maxsize, keeping --audit-log-maxbackup rotated files.
func TestAuditLogFileIsWrittenAndRotated(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	records := audit.New(auditLogger(auditLogFlags{path: path, maxSize: 1, maxBackups: 2}))
	record := audit.Record{Event: audit.EventApproved, CSR: "web", CSRUID: "u-1", Message: strings.Repeat("x", 900)}
	const n = 3000 // about 3 MB: rotated at least twice
	for range n {
		records.Write(record)
	}

	// lumberjack removes backups beyond maxBackups in a goroutine of its own after a rotation, so
	// the count settles a moment after the last write.
	var files []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var err error
		if files, err = filepath.Glob(filepath.Join(dir, "audit*.log")); err != nil {
			t.Fatal(err)
		}
		if len(files) == 3 || time.Now().After(deadline) {
			break
		}
	}
	if len(files) != 3 {
		t.Fatalf("files %v, want the log and 2 backups", files)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	scanner.Buffer(nil, 1<<20)
	lines := 0
	for scanner.Scan() {
		line := scanner.Text()
		if !strings.Contains(line, `"logger":"audit"`) || !strings.Contains(line, `"recordID":"`+audit.RecordID("u-1", audit.EventApproved)+`"`) {
			t.Fatalf("line is not a governance record: %.200s", line)
		}
		lines++
	}
	if lines == 0 || lines >= n {
		t.Errorf("the current file holds %d records, want some but not all %d", lines, n)
	}
}
