package api

import (
	"net/http/httptest"
	"testing"
)

// TestClientIP: X-Forwarded-For counts only when the peer is a trusted
// proxy, and then only up to the right-most hop that is not one.
func TestClientIP(t *testing.T) {
	proxies, err := ParseTrustedProxies([]string{"10.0.0.0/8", " 192.0.2.7 ", "2001:db8::/32", ""})
	if err != nil {
		t.Fatal(err)
	}
	s := &server{Deps: Deps{TrustedProxies: proxies}}
	for _, c := range []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"no proxy, no header", "203.0.113.9:5000", nil, "203.0.113.9"},
		{"an untrusted peer's header is ignored", "203.0.113.9:5000", []string{"198.51.100.1"}, "203.0.113.9"},
		{"an untrusted peer cannot pose as a proxy hop", "203.0.113.9:5000", []string{"10.1.1.1, 198.51.100.1"}, "203.0.113.9"},
		{"trusted peer: the client it names", "10.0.0.5:443", []string{"198.51.100.1"}, "198.51.100.1"},
		{"spoofed hops left of the real client are ignored", "10.0.0.5:443", []string{"1.2.3.4, 198.51.100.1"}, "198.51.100.1"},
		{"a chain of trusted proxies is walked", "10.0.0.5:443", []string{"198.51.100.1, 192.0.2.7", "10.9.9.9"}, "198.51.100.1"},
		{"only proxies: the left-most", "10.0.0.5:443", []string{"10.0.0.1, 10.0.0.2"}, "10.0.0.1"},
		{"a garbled hop stops the walk", "10.0.0.5:443", []string{"1.2.3.4, garbage, 10.0.0.2"}, "10.0.0.2"},
		{"hops with ports", "10.0.0.5:443", []string{"198.51.100.1:4711"}, "198.51.100.1"},
		{"IPv6 proxy and client", "[2001:db8::1]:443", []string{"[2001:db9::5]:80"}, "2001:db9::5"},
		{"trusted peer without a header", "10.0.0.5:443", nil, "10.0.0.5"},
		{"IPv4-mapped peer", "[::ffff:10.0.0.5]:443", []string{"198.51.100.1"}, "198.51.100.1"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.peer
		for _, h := range c.xff {
			r.Header.Add("X-Forwarded-For", h)
		}
		if got := s.clientIP(r); got != c.want {
			t.Errorf("%s: client %q, want %q", c.name, got, c.want)
		}
	}
	if _, err := ParseTrustedProxies([]string{"10.0.0.0/33"}); err == nil {
		t.Error("a malformed CIDR must be refused")
	}
}
