package smtpkit

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/smtpkit/smtpkit/sasl"
)

// The parsers of this file are the one spelling of each setting: package
// config and the command line call them, so a value means the same thing
// wherever it is written. Their errors say what is wrong with the value and
// what to write instead; the caller adds where the value came from.

// ParseTLSVersion parses one TLS version as people write it: "1.2",
// "TLS1.2", "tlsv1.2", "TLS 1.3", "12", and "ssl3" or "3.0" for SSL 3.0
// (which Go cannot speak; see TLSOptions.Versions).
func ParseTLSVersion(s string) (uint16, error) {
	n := strings.ToLower(strings.TrimSpace(s))
	n = strings.NewReplacer(" ", "", "_", "", "-", "").Replace(n)
	n = strings.TrimPrefix(n, "tls")
	n = strings.TrimPrefix(n, "v")
	switch n {
	case "1.0", "1", "10":
		return tls.VersionTLS10, nil
	case "1.1", "11":
		return tls.VersionTLS11, nil
	case "1.2", "12":
		return tls.VersionTLS12, nil
	case "1.3", "13":
		return tls.VersionTLS13, nil
	case "ssl3", "sslv3", "ssl3.0", "sslv3.0", "ssl30", "3.0", "3":
		return VersionSSL30, nil
	}
	return 0, fmt.Errorf("%q is not a TLS version: want 1.0, 1.1, 1.2, 1.3 or ssl3", s)
}

// ParseTLSVersions parses a list of TLS versions separated by commas,
// such as "1.2,1.3" or "TLS 1.2, TLS 1.3"; duplicates are dropped, the
// order is kept.
func ParseTLSVersions(list string) ([]uint16, error) {
	var out []uint16
	for _, item := range strings.Split(list, ",") {
		if strings.TrimSpace(item) == "" {
			continue
		}
		v, err := ParseTLSVersion(item)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out, nil
}

// TLSVersionName names a version the way ParseTLSVersion reads it back: "1.2", "ssl3".
func TLSVersionName(v uint16) string {
	switch v {
	case VersionSSL30:
		return "ssl3"
	case tls.VersionTLS10:
		return "1.0"
	case tls.VersionTLS11:
		return "1.1"
	case tls.VersionTLS12:
		return "1.2"
	case tls.VersionTLS13:
		return "1.3"
	}
	return fmt.Sprintf("0x%04X", v)
}

// ParseMechanisms checks SASL mechanism names (a list separated by commas
// or spaces) and returns them in upper case without duplicates.
func ParseMechanisms(list string) ([]string, error) {
	return CheckMechanisms(splitList(list))
}

// CheckMechanisms is ParseMechanisms for names already split, such as a
// configuration file's list or Auth.Mechanisms.
func CheckMechanisms(names []string) ([]string, error) {
	known := sasl.Mechanisms()
	var out []string
	for _, m := range names {
		u := strings.ToUpper(strings.TrimSpace(m))
		if !slices.Contains(known, u) {
			return nil, fmt.Errorf("%q is not a mechanism smtpkit knows: want some of %s",
				m, strings.Join(known, ", "))
		}
		if !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out, nil
}

// ParseLocalAddr parses a local address to connect from: an IP address,
// bracketed or not, optionally with a port: "192.0.2.10", "2001:db8::10",
// "[2001:db8::10]", "192.0.2.10:2500", "[2001:db8::10]:0". Host names are
// refused: the address must be this machine's; so are IPv6 zones, with a
// port or without. "" gives the zero AddrPort.
func ParseLocalAddr(s string) (netip.AddrPort, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return netip.AddrPort{}, nil
	}
	if ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(t, "["), "]")); err == nil && ip.Zone() == "" {
		return netip.AddrPortFrom(ip.Unmap(), 0), nil
	}
	if ap, err := netip.ParseAddrPort(t); err == nil && ap.Addr().Zone() == "" {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
	}
	return netip.AddrPort{}, fmt.Errorf("%q is not an IP address or IP:port, such as 192.0.2.10 "+
		"or [2001:db8::10]:0 (host names are not accepted)", s)
}

// ParseFingerprint parses a SHA-256 certificate fingerprint: 64 hex
// digits, colons and case optional, as openssl x509 -fingerprint -sha256
// prints it. A SHA-1 or MD5 fingerprint is refused with how to get the
// SHA-256 one.
func ParseFingerprint(s string) ([sha256.Size]byte, error) {
	var pin [sha256.Size]byte
	digits := strings.ReplaceAll(strings.TrimSpace(s), ":", "")
	const how = "only SHA-256 fingerprints are supported: get one with " +
		"`openssl s_client -connect HOST:PORT -starttls smtp | openssl x509 -noout -fingerprint -sha256`"
	if _, err := hex.DecodeString(digits); err != nil || len(digits)%2 != 0 {
		return pin, fmt.Errorf("%q is not a fingerprint: want 64 hex digits, colons optional", s)
	}
	switch len(digits) {
	case 2 * sha256.Size:
	case 40:
		return pin, errors.New("this is a SHA-1 fingerprint; " + how)
	case 32:
		return pin, errors.New("this is an MD5 fingerprint; " + how)
	default:
		return pin, fmt.Errorf("%q is not a SHA-256 fingerprint: want 64 hex digits, colons optional", s)
	}
	hex.Decode(pin[:], []byte(digits))
	return pin, nil
}

// ParseTimeout parses a time limit: a Go duration such as "30s", "2m" or
// "1m30s", or a whole number of seconds as msmtp writes it ("30"). Zero
// means the default; a negative limit is refused.
func ParseTimeout(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	d, err := time.ParseDuration(t)
	if err != nil {
		n, nerr := strconv.ParseUint(t, 10, 32)
		if nerr != nil {
			return 0, fmt.Errorf("%q is not a duration: want a number with a unit, such as 30s, 2m or 1m30s", s)
		}
		d = time.Duration(n) * time.Second
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative: want a positive duration, or 0 for the default", s)
	}
	return d, nil
}

// splitList splits a list written with commas or spaces.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}
