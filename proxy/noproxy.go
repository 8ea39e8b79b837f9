package proxy

import (
	"net"
	"net/netip"
	"strings"
)

// noProxy is a parsed NO_PROXY list: the targets to reach without the proxy.
type noProxy struct {
	all     bool           // "*": no target goes through the proxy
	entries []noProxyEntry // the other entries, in order
}

// noProxyEntry is one NO_PROXY entry: an address prefix or a domain, and an optional port.
type noProxyEntry struct {
	prefix         netip.Prefix // for an IP address or CIDR entry
	domain         string       // for a name entry: lower case, no leading or trailing dot
	subdomainsOnly bool         // the entry started with "." or "*.": the domain itself does not match
	port           string       // "" matches every port
}

// parseNoProxy parses a NO_PROXY value: entries separated by commas or spaces,
// each "*", an IP address, a CIDR prefix, or a domain name, optionally followed
// by ":port". Entries it cannot understand are skipped.
func parseNoProxy(s string) noProxy {
	var list noProxy
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	for _, f := range fields {
		if f == "*" {
			list.all = true
			continue
		}
		if e, ok := parseNoProxyEntry(strings.ToLower(f)); ok {
			list.entries = append(list.entries, e)
		}
	}
	return list
}

// parseNoProxyEntry parses one entry other than "*".
func parseNoProxyEntry(f string) (noProxyEntry, bool) {
	if p, err := netip.ParsePrefix(f); err == nil {
		return noProxyEntry{prefix: p.Masked()}, true
	}
	if a, err := netip.ParseAddr(f); err == nil {
		a = a.Unmap().WithZone("")
		return noProxyEntry{prefix: netip.PrefixFrom(a, a.BitLen())}, true
	}
	var e noProxyEntry
	host := f
	if h, port, err := net.SplitHostPort(f); err == nil {
		host, e.port = h, port
	} else if strings.HasPrefix(f, "[") && strings.HasSuffix(f, "]") {
		host = f[1 : len(f)-1] // "[::1]" without a port
	}
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap().WithZone("")
		e.prefix = netip.PrefixFrom(a, a.BitLen())
		return e, true
	}
	host = strings.TrimSuffix(host, ".")
	switch {
	case strings.HasPrefix(host, "*."):
		host, e.subdomainsOnly = host[2:], true
	case strings.HasPrefix(host, "."):
		host, e.subdomainsOnly = host[1:], true
	}
	if host == "" || strings.ContainsAny(host, "*/") {
		return noProxyEntry{}, false
	}
	e.domain = host
	return e, true
}

// matches reports whether the target host:port is to be reached without the proxy.
func (l noProxy) matches(host, port string) bool {
	if l.all {
		return true
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	ip, ipErr := netip.ParseAddr(host)
	ip = ip.Unmap().WithZone("")
	for _, e := range l.entries {
		if e.port != "" && e.port != port {
			continue
		}
		switch {
		case e.prefix.IsValid():
			if ipErr == nil && e.prefix.Contains(ip) {
				return true
			}
		case ipErr == nil:
			// A name entry never matches an address: nothing is resolved here.
		case host == e.domain:
			if !e.subdomainsOnly {
				return true
			}
		case strings.HasSuffix(host, "."+e.domain):
			return true
		}
	}
	return false
}
