package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/signerpolicy/signer-policy-operator/internal/audit"
)

// showRecord prints the governance record of the CSR's certificate as the operator logged it:
// one JSON line of the logger `audit`, the durable trail once the CSR itself is gone.
func showRecord(logPath, csrName string) error {
	step("The governance record of " + csrName + "'s certificate, one JSON line in the operator's log")
	// The record follows the certificate by a write or two; give the log a moment.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		rec, err := issuedRecord(logPath, csrName)
		if err != nil {
			return err
		}
		if rec != nil {
			out, err := json.MarshalIndent(rec, "", "  ")
			if err != nil {
				return err
			}
			fmt.Println(string(out))
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no Issued governance record for %s in %s", csrName, logPath)
		}
	}
}

// issuedRecord finds the Issued record of the CSR among the log's audit lines.
func issuedRecord(logPath, csrName string) (*audit.Record, error) {
	f, err := os.Open(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for scanner.Scan() {
		var line struct {
			Logger string       `json:"logger"`
			Record audit.Record `json:"record"`
		}
		// Lines of other loggers, or not JSON, are not records.
		if json.Unmarshal(scanner.Bytes(), &line) != nil || line.Logger != "audit" {
			continue
		}
		if line.Record.CSR == csrName && line.Record.Event == audit.EventIssued {
			return &line.Record, nil
		}
	}
	return nil, scanner.Err()
}
