package harness

import (
	"encoding/json"
	"sync"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"

	"github.com/signerpolicy/signer-policy-operator/internal/audit"
)

// AuditSink keeps the governance records the operator writes, as the JSON a log pipeline would
// receive, so tests can assert what was recorded.
type AuditSink struct {
	mu      sync.Mutex
	records []audit.Record
}

// Logger returns a JSON logger whose "record" values land in the sink.
func (s *AuditSink) Logger() *logr.Logger {
	l := funcr.NewJSON(func(obj string) {
		var entry struct {
			Record *audit.Record `json:"record"`
		}
		if json.Unmarshal([]byte(obj), &entry) != nil || entry.Record == nil {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.records = append(s.records, *entry.Record)
	}, funcr.Options{})
	return &l
}

// For returns the records about the named CSR, oldest first.
func (s *AuditSink) For(csrName string) []audit.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []audit.Record
	for _, r := range s.records {
		if r.CSR == csrName {
			out = append(out, r)
		}
	}
	return out
}
