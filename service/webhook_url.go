package service

import (
	"context"
	"net"
	"net/netip"
	"net/url"
	"strings"

	"github.com/stewardhq/steward"
)

// WebhookAddressPolicy says which receiver addresses are allowed besides
// public ones. Off by default: a webhook URL is an outbound request an
// operator aims, so it must not reach Steward's own network.
type WebhookAddressPolicy struct {
	// AllowInsecure allows http:// and loopback addresses
	// (STEWARD_WEBHOOK_ALLOW_INSECURE), for a receiver on the same host.
	AllowInsecure bool
	// AllowPrivate allows private (RFC 1918, fc00::/7) and link-local
	// addresses (STEWARD_WEBHOOK_ALLOW_PRIVATE). Cloud metadata addresses
	// are refused even then.
	AllowPrivate bool
	// Resolve looks a receiver's host up at delivery; nil is the system
	// resolver (tests give their own names).
	Resolve func(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// metadataAddrs are the cloud instance metadata services: never a receiver.
var metadataAddrs = []netip.Addr{
	netip.MustParseAddr("169.254.169.254"), // AWS, GCP, Azure, OpenStack
	netip.MustParseAddr("169.254.170.2"),   // AWS ECS task metadata
	netip.MustParseAddr("fd00:ec2::254"),   // AWS over IPv6
	netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud
}

// refuse says why a receiver may not be at addr, or "" when it may.
func (p WebhookAddressPolicy) refuse(addr netip.Addr) string {
	addr = addr.Unmap()
	for _, m := range metadataAddrs {
		if addr == m {
			return "is a cloud metadata address"
		}
	}
	switch {
	case addr.IsLoopback():
		if !p.AllowInsecure {
			return "is a loopback address (allowed only with STEWARD_WEBHOOK_ALLOW_INSECURE=true)"
		}
	case addr.IsPrivate(), addr.IsLinkLocalUnicast():
		if !p.AllowPrivate {
			return "is a private or link-local address (allowed only with STEWARD_WEBHOOK_ALLOW_PRIVATE=true)"
		}
	case addr.IsUnspecified(), addr.IsMulticast(), addr.IsLinkLocalMulticast(), addr.IsInterfaceLocalMulticast():
		return "is not a unicast address"
	}
	return ""
}

// maxWebhookURL bounds a receiver's URL.
const maxWebhookURL = 2048

// checkURL validates a receiver's URL: absolute, https (http only for a
// loopback host with AllowInsecure), no credentials, and a host that, if
// an address, is allowed. A name is checked again when delivery dials it,
// since what it resolves to can change (DNS rebinding).
func (p WebhookAddressPolicy) checkURL(raw string) (string, error) {
	bad := func(msg string) (string, error) { return "", steward.FieldError("url", msg) }
	if raw == "" {
		return bad("is required")
	}
	if len(raw) > maxWebhookURL {
		return bad("must be at most 2048 characters")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return bad("must be an absolute https:// URL")
	}
	if u.User != nil {
		return bad("must not carry a user name or password")
	}
	if u.Fragment != "" {
		return bad("must not have a fragment")
	}
	host := strings.ToLower(u.Hostname())
	addr, perr := netip.ParseAddr(host)
	isAddr := perr == nil
	loopback := host == "localhost" || strings.HasSuffix(host, ".localhost") || (isAddr && addr.IsLoopback())
	switch u.Scheme {
	case "https":
	case "http":
		if !p.AllowInsecure || !loopback {
			return bad("must be https (http only to a loopback host, with STEWARD_WEBHOOK_ALLOW_INSECURE=true)")
		}
	default:
		return bad("must be an absolute https:// URL")
	}
	if loopback && !isAddr {
		addr, isAddr = netip.MustParseAddr("127.0.0.1"), true
	}
	if isAddr {
		if why := p.refuse(addr); why != "" {
			return bad("host " + why)
		}
	}
	if port := u.Port(); port != "" {
		if _, err := net.LookupPort("tcp", port); err != nil {
			return bad("has an invalid port")
		}
	}
	return u.String(), nil
}
