package service

import (
	"errors"
	"net/netip"
	"net/url"
	"testing"

	"github.com/stewardhq/steward"
)

// TestWebhookURLPolicy: https to a public host passes; http, credentials,
// fragments and relative URLs never do; loopback (by name or address)
// needs AllowInsecure, which also allows http to it; private and
// link-local addresses need AllowPrivate; metadata addresses are refused
// whatever the settings. Each refusal names the url field.
func TestWebhookURLPolicy(t *testing.T) {
	none, insecure, private := WebhookAddressPolicy{}, WebhookAddressPolicy{AllowInsecure: true}, WebhookAddressPolicy{AllowPrivate: true}
	all := WebhookAddressPolicy{AllowInsecure: true, AllowPrivate: true}
	cases := []struct {
		url string
		p   WebhookAddressPolicy
		ok  bool
	}{
		{"https://hooks.example.com/steward", none, true},
		{"https://93.184.216.34:8443/h", none, true},
		{"http://hooks.example.com/steward", none, false},
		{"http://hooks.example.com/steward", all, false},
		{"ftp://hooks.example.com/", all, false},
		{"/relative", all, false},
		{"", all, false},
		{"https://user:pw@hooks.example.com/", none, false},
		{"https://hooks.example.com/#frag", none, false},
		{"https://127.0.0.1/h", none, false},
		{"https://localhost/h", none, false},
		{"https://[::1]/h", none, false},
		{"http://127.0.0.1:9000/h", insecure, true},
		{"http://localhost:9000/h", insecure, true},
		{"http://[::1]:9000/h", insecure, true},
		{"https://10.1.2.3/h", none, false},
		{"https://192.168.0.10/h", insecure, false},
		{"https://172.16.5.5/h", private, true},
		{"https://[fd12::1]/h", none, false},
		{"https://169.254.10.10/h", none, false},
		{"https://169.254.10.10/h", private, true},
		{"https://169.254.169.254/latest/meta-data", all, false},
		{"https://[fd00:ec2::254]/", all, false},
		{"https://[::ffff:169.254.169.254]/", all, false},
		{"https://0.0.0.0/", all, false},
	}
	for _, c := range cases {
		got, err := c.p.checkURL(c.url)
		if c.ok != (err == nil) {
			t.Errorf("checkURL(%q, %+v) = %q, %v; want ok=%v", c.url, c.p, got, err, c.ok)
			continue
		}
		var se *steward.Error
		if err != nil && (!errors.As(err, &se) || se.Code != steward.CodeValidation || se.Details["fields"].(map[string]any)["url"] == nil) {
			t.Errorf("checkURL(%q): %v, want a VALIDATION_FAILED naming url", c.url, err)
		}
	}
}

// FuzzWebhookURL: whatever the input, checkURL never panics, and what it
// accepts is an absolute http(s) URL without credentials whose literal
// address (if any) the policy allows; http only to loopback with
// AllowInsecure.
func FuzzWebhookURL(f *testing.F) {
	for _, s := range []string{"https://hooks.example.com/h", "http://127.0.0.1:9/h", "https://[fe80::1%25eth0]/",
		"https://2130706433/", "https://0x7f.1/", "https://[::ffff:127.0.0.1]/", "https://a@b/", "https://h:99999/",
		"https:///x", "HTTPS://EXAMPLE.COM", "https://example.com:0/", "https://\x00/"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, raw string, insecure bool) {
		p := WebhookAddressPolicy{AllowInsecure: insecure}
		got, err := p.checkURL(raw)
		if err != nil {
			return
		}
		u, perr := url.Parse(got)
		if perr != nil || u.User != nil || u.Host == "" {
			t.Fatalf("checkURL(%q) accepted %q", raw, got)
		}
		switch u.Scheme {
		case "https":
		case "http":
			if !insecure {
				t.Fatalf("checkURL(%q) accepted http without AllowInsecure", raw)
			}
		default:
			t.Fatalf("checkURL(%q) accepted scheme %q", raw, u.Scheme)
		}
		if a, err := netip.ParseAddr(u.Hostname()); err == nil && p.refuse(a) != "" {
			t.Fatalf("checkURL(%q) accepted a refused address %s", raw, a)
		}
	})
}
