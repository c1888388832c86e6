package pebble

import (
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

// DNSServer is an authoritative nameserver for one zone on 127.0.0.1, over UDP and TCP, that
// Pebble resolves every identifier through (-dnsserver):
//   - A queries for any name answer 127.0.0.1, so HTTP-01 validations of any test name reach
//     the operator's challenge listener on loopback;
//   - TXT records are whatever RFC 2136 updates, signed with the server's TSIG key, have put
//     there, which is how the signer's rfc2136 solver presents DNS-01 challenges;
//   - SOA answers name the zone, so lego finds where to send updates.
type DNSServer struct {
	// Addr is host:port of both listeners.
	Addr string
	// Zone is the zone's name, fully qualified.
	Zone string
	// TSIGKeyName and TSIGSecret (base64) authenticate updates with HMAC-SHA256.
	TSIGKeyName, TSIGSecret string

	mu       sync.Mutex
	txt      map[string][]string
	inserted map[string]int
	servers  []*dns.Server
}

// StartDNS serves zone (e.g. "acme.test") with a freshly generated TSIG key.
func StartDNS(zone string) (*DNSServer, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	d := &DNSServer{
		Zone: dns.Fqdn(strings.ToLower(zone)), TSIGKeyName: "acme-test-key.", TSIGSecret: base64.StdEncoding.EncodeToString(secret),
		txt: map[string][]string{}, inserted: map[string]int{},
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

// update applies an RFC 2136 update to the zone's TXT records, after checking its TSIG.
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
	for _, rr := range r.Ns {
		h := rr.Header()
		name := strings.ToLower(h.Name)
		switch {
		case h.Class == dns.ClassANY && (h.Rrtype == dns.TypeTXT || h.Rrtype == dns.TypeANY):
			delete(d.txt, name)
		case h.Class == dns.ClassNONE:
			if txt, ok := rr.(*dns.TXT); ok {
				value := strings.Join(txt.Txt, "")
				d.txt[name] = slices.DeleteFunc(d.txt[name], func(v string) bool { return v == value })
				if len(d.txt[name]) == 0 {
					delete(d.txt, name)
				}
			}
		case h.Class == dns.ClassINET:
			if txt, ok := rr.(*dns.TXT); ok {
				value := strings.Join(txt.Txt, "")
				if !slices.Contains(d.txt[name], value) {
					d.txt[name] = append(d.txt[name], value)
					d.inserted[name]++
				}
			}
		}
	}
	return dns.RcodeSuccess
}

func (d *DNSServer) answer(m *dns.Msg, q dns.Question) {
	name := strings.ToLower(q.Name)
	hdr := dns.RR_Header{Name: q.Name, Class: dns.ClassINET, Ttl: 0}
	switch q.Qtype {
	case dns.TypeA:
		hdr.Rrtype = dns.TypeA
		m.Answer = append(m.Answer, &dns.A{Hdr: hdr, A: net.IPv4(127, 0, 0, 1)})
	case dns.TypeTXT:
		hdr.Rrtype = dns.TypeTXT
		d.mu.Lock()
		for _, v := range d.txt[name] {
			m.Answer = append(m.Answer, &dns.TXT{Hdr: hdr, Txt: []string{v}})
		}
		d.mu.Unlock()
	case dns.TypeSOA:
		if name == d.Zone {
			m.Answer = append(m.Answer, d.soa())
			return
		}
	}
	if len(m.Answer) == 0 && dns.IsSubDomain(d.Zone, name) {
		m.Ns = append(m.Ns, d.soa())
	}
}

func (d *DNSServer) soa() *dns.SOA {
	return &dns.SOA{
		Hdr: dns.RR_Header{Name: d.Zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60},
		Ns:  "ns." + d.Zone, Mbox: "hostmaster." + d.Zone, Serial: 1, Refresh: 60, Retry: 60, Expire: 600, Minttl: 0,
	}
}
