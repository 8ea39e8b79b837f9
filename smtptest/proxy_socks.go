package smtptest

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
)

// SOCKS5 (RFC 1928, RFC 1929) values the proxy uses.
const (
	socks5NoAuth       = 0x00
	socks5UserPass     = 0x02
	socks5NoAcceptable = 0xFF
	socks5Connect      = 0x01
)

// SOCKS5 reply codes.
const (
	socks5Succeeded      = 0
	socks5NotAllowed     = 2
	socks5Unreachable    = 4
	socks5NotSupported   = 7
	socks5BadAddressType = 8
)

// serveSOCKS5 runs the SOCKS5 handshake: method choice, authentication and
// CONNECT; a granted request is relayed.
func serveSOCKS5(p *Proxy, c net.Conn, r *bufio.Reader) {
	head := make([]byte, 2)
	if _, err := io.ReadFull(r, head); err != nil || head[0] != 5 {
		return
	}
	methods := make([]byte, head[1])
	if _, err := io.ReadFull(r, methods); err != nil {
		return
	}
	req := ProxyRequest{Client: c.RemoteAddr().String()}
	method := byte(socks5NoAuth)
	if p.cfg.Username != "" {
		method = socks5UserPass
	}
	if !slices.Contains(methods, method) {
		p.record(req) // before the reply, so that a client that has it finds the request in Requests
		c.Write([]byte{5, socks5NoAcceptable})
		return
	}
	if _, err := c.Write([]byte{5, method}); err != nil {
		return
	}
	if method == socks5UserPass {
		// VER ULEN UNAME PLEN PASSWD
		user, pass, ok := readUserPass(r)
		if !ok {
			return
		}
		req.Username, req.Password = user, pass
		if user != p.cfg.Username || pass != p.cfg.Password {
			p.record(req)
			c.Write([]byte{1, 1})
			return
		}
		if _, err := c.Write([]byte{1, 0}); err != nil {
			return
		}
	}
	// VER CMD RSV ATYP DST.ADDR DST.PORT
	hdr := make([]byte, 4)
	if _, err := io.ReadFull(r, hdr); err != nil || hdr[0] != 5 {
		return
	}
	host, ok := readSOCKS5Host(r, hdr[3])
	if !ok {
		socks5Reply(c, socks5BadAddressType)
		return
	}
	port := make([]byte, 2)
	if _, err := io.ReadFull(r, port); err != nil {
		return
	}
	req.Target = net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(port))))
	code := byte(socks5Succeeded)
	var target net.Conn
	switch {
	case hdr[1] != socks5Connect:
		code = socks5NotSupported
	case p.cfg.Refuse:
		code = socks5NotAllowed
	default:
		var err error
		if target, err = p.dialTarget(req.Target); err != nil {
			code = socks5Unreachable
		}
	}
	req.Granted = code == socks5Succeeded
	p.record(req)
	if err := socks5Reply(c, code); err != nil || target == nil {
		if target != nil {
			p.closeTarget(target)
		}
		return
	}
	p.relay(c, r, target)
}

// readUserPass reads an RFC 1929 username and password request.
func readUserPass(r *bufio.Reader) (user, pass string, ok bool) {
	ver, err := r.ReadByte()
	if err != nil || ver != 1 {
		return "", "", false
	}
	read := func() (string, bool) {
		n, err := r.ReadByte()
		if err != nil {
			return "", false
		}
		b := make([]byte, n)
		_, err = io.ReadFull(r, b)
		return string(b), err == nil
	}
	if user, ok = read(); !ok {
		return "", "", false
	}
	pass, ok = read()
	return user, pass, ok
}

// readSOCKS5Host reads the target address of type atyp: IPv4, name or IPv6.
func readSOCKS5Host(r *bufio.Reader, atyp byte) (string, bool) {
	var n int
	switch atyp {
	case 1:
		n = 4
	case 4:
		n = 16
	case 3:
		l, err := r.ReadByte()
		if err != nil {
			return "", false
		}
		n = int(l)
	default:
		return "", false
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", false
	}
	if atyp == 3 {
		return string(b), true
	}
	ip, _ := netip.AddrFromSlice(b)
	return ip.String(), true
}

// socks5Reply sends a reply with code and the bound address 0.0.0.0:0.
func socks5Reply(c net.Conn, code byte) error {
	_, err := c.Write([]byte{5, code, 0, 1, 0, 0, 0, 0, 0, 0})
	return err
}

// SOCKS4 reply codes.
const (
	socks4Granted        = 0x5A
	socks4Rejected       = 0x5B
	socks4IdentdMismatch = 0x5D
)

// serveSOCKS4 runs a SOCKS4 or SOCKS4a CONNECT; a granted request is relayed.
func serveSOCKS4(p *Proxy, c net.Conn, r *bufio.Reader) {
	// VN CD DSTPORT DSTIP USERID NUL [HOST NUL]
	hdr := make([]byte, 8)
	if _, err := io.ReadFull(r, hdr); err != nil || hdr[0] != 4 {
		return
	}
	user, err := r.ReadString(0)
	if err != nil {
		return
	}
	ip := netip.AddrFrom4([4]byte(hdr[4:8]))
	host := ip.String()
	if b := ip.As4(); b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] != 0 {
		// SOCKS4a: the name follows.
		name, err := r.ReadString(0)
		if err != nil {
			return
		}
		host = name[:len(name)-1]
	}
	req := ProxyRequest{
		Target:   net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(hdr[2:4])))),
		Username: user[:len(user)-1],
		Client:   c.RemoteAddr().String(),
	}
	code := byte(socks4Granted)
	var target net.Conn
	switch {
	case p.cfg.Username != "" && req.Username != p.cfg.Username:
		code = socks4IdentdMismatch
	case hdr[1] != 1 || p.cfg.Refuse:
		code = socks4Rejected
	default:
		if target, err = p.dialTarget(req.Target); err != nil {
			code = socks4Rejected
		}
	}
	req.Granted = code == socks4Granted
	p.record(req)
	if _, err := c.Write([]byte{0, code, 0, 0, 0, 0, 0, 0}); err != nil || target == nil {
		if target != nil {
			p.closeTarget(target)
		}
		return
	}
	p.relay(c, r, target)
}
