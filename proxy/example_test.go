package proxy_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/smtpkit/smtpkit/proxy"
)

// Parse builds a dialer from a proxy URL; printing it hides the password.
func ExampleParse() {
	d, err := proxy.Parse("socks5h://alice:s3cret@proxy.example", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d)
	// Output: socks5h://alice:xxxxx@proxy.example:1080
}

// Dialers chain through Forward: here a SOCKS5 proxy is reached through an
// HTTPS proxy, itself reached from a chosen local address.
func ExampleHTTP_chain() {
	local := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 10)}}
	d := &proxy.SOCKS5{
		Addr:          "socks.example:1080",
		RemoteResolve: true,
		Forward:       &proxy.HTTP{Addr: "web-proxy.example:443", TLS: nil, Forward: local},
	}
	_ = func(ctx context.Context) (net.Conn, error) {
		return d.DialContext(ctx, "tcp", "mail.example.com:587")
	}
	fmt.Println(d)
	// Output: socks5h://socks.example:1080
}

// Config sets what every dialer built from a URL or the environment shares,
// here a shorter limit for the proxy's own replies.
func ExampleConfig_Parse() {
	c := proxy.Config{HandshakeTimeout: 5 * time.Second}
	d, err := c.Parse("socks5h://proxy.example")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d, d.(*proxy.SOCKS5).HandshakeTimeout)
	// Output: socks5h://proxy.example:1080 5s
}
