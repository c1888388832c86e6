package pebble

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// DNSServer is the RFC 2136 nameserver of one zone on 127.0.0.1, over UDP and TCP, that the
// signer's rfc2136 solver presents DNS-01 challenges to: it answers SOA queries, so lego finds
// where to send updates, and applies updates signed with the server's TSIG key to the zone's TXT
// records. Pebble does not query it: it resolves through pebble-challtestsrv, so every change
// is published there before the update is answered, and a solver that was told its record is
// in place has it where Pebble looks.
type DNSServer struct {
	// Addr is host:port of both listeners.
	Addr string
	// Zone is the zone's name, fully qualified.
	Zone string
	// TSIGKeyName and TSIGSecret (base64) authenticate updates with HMAC-SHA256.
	TSIGKeyName, TSIGSecret string

	records  *ChallTestSrv
	mu       sync.Mutex
	txt      map[string][]string
	inserted map[string]int
	servers  []*dns.Server
}

// StartDNS serves zone (e.g. "acme.test") with a freshly generated TSIG key, publishing its
// TXT records into records.
func StartDNS(zone string, records *ChallTestSrv) (*DNSServer, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	d := &DNSServer{
		Zone: dns.Fqdn(strings.ToLower(zone)), TSIGKeyName: "acme-test-key.", TSIGSecret: base64.StdEncoding.EncodeToString(secret),
		records: records, txt: map[string][]string{}, inserted: map[string]int{},
	}
	// UDP and TCP must share the port; another process may take the TCP half first, so try a
	// few ports.
	var lastErr error
	for range 10 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err != nil {
			_ = pc.Close()
			lastErr = err
			continue
		}
		d.Addr = pc.LocalAddr().String()
		d.serve(&dns.Server{PacketConn: pc}, &dns.Server{Listener: ln})
		return d, nil
	}
	return nil, fmt.Errorf("no free port for UDP and TCP: %w", lastErr)
}

func (d *DNSServer) serve(servers ...*dns.Server) {
	for _, srv := range servers {
		srv.Handler = dns.HandlerFunc(d.handle)
		srv.TsigSecret = map[string]string{d.TSIGKeyName: d.TSIGSecret}
		srv.MsgAcceptFunc = acceptUpdates
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		d.servers = append(d.servers, srv)
		go func() { _ = srv.ActivateAndServe() }()
		<-started
	}
}

// acceptUpdates lets RFC 2136 updates through, which miekg/dns answers NOTIMP by default.
func acceptUpdates(h dns.Header) dns.MsgAcceptAction {
	if int(h.Bits>>11)&0xF == dns.OpcodeUpdate {
		return dns.MsgAccept
	}
	return dns.DefaultMsgAcceptFunc(h)
}

// Close stops both listeners.
func (d *DNSServer) Close() error {
	var errs []error
	for _, srv := range d.servers {
		errs = append(errs, srv.Shutdown())
	}
	return errors.Join(errs...)
}

// TXT returns the TXT values at name.
func (d *DNSServer) TXT(name string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.txt[dns.Fqdn(strings.ToLower(name))])
}

// Inserted counts the TXT values ever added at name, to tell "cleaned up" from "never made".
func (d *DNSServer) Inserted(name string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.inserted[dns.Fqdn(strings.ToLower(name))]
}

func (d *DNSServer) handle(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	if r.Opcode == dns.OpcodeUpdate {
		m.Rcode = d.update(w, r)
		if t := r.IsTsig(); t != nil {
			m.SetTsig(t.Hdr.Name, t.Algorithm, 300, time.Now().Unix())
		}
	} else if len(r.Question) == 1 {
		d.answer(m, r.Question[0])
	}
	_ = w.WriteMsg(m)
}

// update applies an RFC 2136 update to the zone's TXT records, after checking its TSIG, and
// publishes the names it changed.
func (d *DNSServer) update(w dns.ResponseWriter, r *dns.Msg) int {
	if r.IsTsig() == nil {
		return dns.RcodeRefused
	}
	if w.TsigStatus() != nil {
		return dns.RcodeNotAuth
	}
	if len(r.Question) != 1 || !dns.IsSubDomain(d.Zone, strings.ToLower(r.Question[0].Name)) {
		return dns.RcodeNotZone
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	changed := map[string]bool{}
	for _, rr := range r.Ns {
		h := rr.Header()
		name := strings.ToLower(h.Name)
		switch {
		case h.Class == dns.ClassANY && (h.Rrtype == dns.TypeTXT || h.Rrtype == dns.TypeANY):
			delete(d.txt, name)
			changed[name] = true
		case h.Class == dns.ClassNONE:
			if txt, ok := rr.(*dns.TXT); ok {
				value := strings.Join(txt.Txt, "")
				d.txt[name] = slices.DeleteFunc(d.txt[name], func(v string) bool { return v == value })
				if len(d.txt[name]) == 0 {
					delete(d.txt, name)
				}
				changed[name] = true
			}
		case h.Class == dns.ClassINET:
			if txt, ok := rr.(*dns.TXT); ok {
				value := strings.Join(txt.Txt, "")
				if !slices.Contains(d.txt[name], value) {
					d.txt[name] = append(d.txt[name], value)
					d.inserted[name]++
				}
				changed[name] = true
			}
		}
	}
	for name := range changed {
		if err := d.publish(name); err != nil {
			return dns.RcodeServerFailure
		}
	}
	return dns.RcodeSuccess
}

// publish makes the TXT records at name in pebble-challtestsrv what they are here. Its API
// only adds a value or clears them all, so removing one value means clearing the name and
// adding back the others.
func (d *DNSServer) publish(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.records.ClearTXT(ctx, name); err != nil {
		return err
	}
	for _, v := range d.txt[name] {
		if err := d.records.SetTXT(ctx, name, v); err != nil {
			return err
		}
	}
	return nil
}

// answer gives the zone's SOA at the apex, where lego, asking for the SOA of the record's name
// and then of each parent, finds the zone to update. Other names of the zone get an empty
// answer with the SOA as authority.
func (d *DNSServer) answer(m *dns.Msg, q dns.Question) {
	name := strings.ToLower(q.Name)
	switch {
	case q.Qtype == dns.TypeSOA && name == d.Zone:
		m.Answer = append(m.Answer, d.soa())
	case dns.IsSubDomain(d.Zone, name):
		m.Ns = append(m.Ns, d.soa())
	}
}

func (d *DNSServer) soa() *dns.SOA {
	return &dns.SOA{
		Hdr: dns.RR_Header{Name: d.Zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60},
		Ns:  "ns." + d.Zone, Mbox: "hostmaster." + d.Zone, Serial: 1, Refresh: 60, Retry: 60, Expire: 600, Minttl: 0,
	}
}
