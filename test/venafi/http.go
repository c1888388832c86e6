package venafi

import (
	"bufio"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
)

// startTLS starts handler on 127.0.0.1 over TLS, presenting the loopback certificate if given.
func startTLS(handler http.Handler, l *LoopbackTLS) *httptest.Server {
	srv := httptest.NewUnstartedServer(handler)
	// Clients that do not trust the server are part of the tests; their failed handshakes are
	// not news.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if l != nil {
		srv.TLS = l.serverConfig()
	}
	srv.StartTLS()
	return srv
}

// caBundle is the PEM that makes a client trust srv.
func caBundle(srv *httptest.Server, l *LoopbackTLS) []byte {
	if l != nil {
		return slices.Clone(l.CAPEM)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
}

// chainInOrder reorders an issued chain (leaf first, root last) as a client asked for it.
func chainInOrder(chainPEM []byte, includeChain, rootFirst bool) []byte {
	var blocks [][]byte
	for rest := chainPEM; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		blocks = append(blocks, pem.EncodeToMemory(block))
	}
	if len(blocks) == 0 {
		return nil
	}
	if !includeChain {
		return blocks[0]
	}
	if rootFirst {
		slices.Reverse(blocks)
	}
	return slices.Concat(blocks...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeJSONWithReason answers with a custom HTTP reason phrase, which net/http's ResponseWriter
// cannot set. TPP (on IIS) puts its error messages in the reason phrase, and that is the only
// place vcert's TPP connector reports them from, so the stand-in has to do the same. The
// connection is taken over and closed after the response.
func writeJSONWithReason(w http.ResponseWriter, status int, reason string, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		writeJSON(w, status, v)
		return
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		writeJSON(w, status, v)
		return
	}
	defer conn.Close()
	writeRaw(rw, status, reason, body)
}

func writeRaw(rw *bufio.ReadWriter, status int, reason string, body []byte) {
	// A line break in the reason would end the status line early and corrupt the response.
	reason = strings.NewReplacer("\r", " ", "\n", " ").Replace(reason)
	_, _ = fmt.Fprintf(rw, "HTTP/1.1 %d %s\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n",
		status, reason, len(body))
	_, _ = rw.Write(body)
	_ = rw.Flush()
}
