package main

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"time"
)

// auditEvent is the part of an audit.k8s.io/v1 Event the bench reads.
type auditEvent struct {
	Verb       string `json:"verb"`
	RequestURI string `json:"requestURI"`
	User       struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
	RequestReceived time.Time `json:"requestReceivedTimestamp"`
}

// operatorRequests counts, from the API server's audit log, the operator's requests received
// in [from, to] by "verb resource[/subresource]". A request is logged when it completes, so a
// watch is counted once the operator has stopped.
func operatorRequests(path string, from, to time.Time) (map[string]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	counts := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for sc.Scan() {
		var ev auditEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return nil, err
		}
		if ev.User.Username != operatorUser || ev.RequestReceived.Before(from) || ev.RequestReceived.After(to) {
			continue
		}
		counts[requestKind(ev)]++
	}
	return counts, sc.Err()
}

// requestKind names a request by verb and resource, or by path when it is not for a resource
// (discovery).
func requestKind(ev auditEvent) string {
	if ev.ObjectRef == nil || ev.ObjectRef.Resource == "" {
		path, _, _ := strings.Cut(ev.RequestURI, "?")
		return ev.Verb + " " + path
	}
	kind := ev.Verb + " " + ev.ObjectRef.Resource
	if ev.ObjectRef.Subresource != "" {
		kind += "/" + ev.ObjectRef.Subresource
	}
	return kind
}
