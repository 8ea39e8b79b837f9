package proxy

import (
	"context"
	"fmt"
	"net"
	"os"
)

// FromEnvironment returns a dialer for the proxy URL in ALL_PROXY (or
// all_proxy, read when ALL_PROXY is empty), reaching the proxy through
// forward (a net.Dialer when nil). Targets listed in NO_PROXY (or no_proxy)
// are dialled directly through forward. When no proxy is set, or NO_PROXY is
// "*", it returns forward itself.
//
// NO_PROXY holds entries separated by commas: "*" (every target), an IP
// address ("192.0.2.1"), a CIDR prefix ("10.0.0.0/8"), a domain
// ("example.com" matches it and its subdomains; ".example.com" and
// "*.example.com" only its subdomains), each optionally followed by ":port".
// Names are compared as written, never resolved. HTTP_PROXY and HTTPS_PROXY
// are ignored: they are for HTTP clients.
//
// This package reads the environment only here, when the caller asks.
// Config.FromEnvironment does the same with more settings.
func FromEnvironment(forward ContextDialer) (ContextDialer, error) {
	return Config{Forward: forward}.FromEnvironment()
}

// FromEnvironment is the package's FromEnvironment with c's settings.
func (c Config) FromEnvironment() (ContextDialer, error) {
	forward := c.Forward
	if forward == nil {
		forward = &net.Dialer{}
	}
	c.Forward = forward
	name, raw := getenv("ALL_PROXY", "all_proxy")
	if raw == "" {
		return forward, nil
	}
	p, err := c.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	_, rawNoProxy := getenv("NO_PROXY", "no_proxy")
	noProxy := parseNoProxy(rawNoProxy)
	switch {
	case noProxy.all:
		return forward, nil
	case len(noProxy.entries) == 0:
		return p, nil
	}
	return &envDialer{proxy: p, direct: forward, noProxy: noProxy, rawNoProxy: rawNoProxy}, nil
}

// getenv returns the first of the named variables that is set and not empty, and its name.
func getenv(names ...string) (name, value string) {
	for _, name := range names {
		if v := os.Getenv(name); v != "" {
			return name, v
		}
	}
	return "", ""
}

// envDialer dials through proxy, or directly through direct when NO_PROXY lists the target.
type envDialer struct {
	proxy      ContextDialer
	direct     ContextDialer
	noProxy    noProxy
	rawNoProxy string
}

// DialContext dials addr directly if NO_PROXY lists it, through the proxy otherwise.
func (d *envDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if host, port, err := net.SplitHostPort(addr); err == nil && d.noProxy.matches(host, port) {
		return d.direct.DialContext(ctx, network, addr)
	}
	return d.proxy.DialContext(ctx, network, addr)
}

// String names the proxy, password hidden, and the NO_PROXY list.
func (d *envDialer) String() string {
	return fmt.Sprintf("%v (NO_PROXY %q)", d.proxy, d.rawNoProxy)
}
