package interop_test

// Proxies: tests to come here once the library dials through proxies.
//
// What the peers give them (keys of peers.env; proxy user PEERS_PROXY_USER,
// password PEERS_PROXY_PASS). Every proxy reaches only 127.0.0.0/8 and
// localhost; good targets are 2465 (implicit TLS), 2587 (STARTTLS) and 2525.
//   - PEERS_SOCKS_DANTE (Dante): SOCKS4 and SOCKS5, no auth. No SOCKS4a: a
//     SOCKS4a request is taken as a CONNECT to 0.0.0.1 and rejected (91).
//   - PEERS_SOCKS_DANTE_AUTH: SOCKS5 with username/password only; no
//     credentials gets "no acceptable method", wrong ones a rejection.
//   - PEERS_SOCKS_MICROSOCKS, PEERS_SOCKS_MICROSOCKS_AUTH: SOCKS5 only (a
//     SOCKS4 request just closes the connection); the second requires
//     username/password.
//   - PEERS_SOCKS_SSH (ssh -D): SOCKS4, SOCKS4a and SOCKS5, no auth.
//   - PEERS_HTTP_PROXY_TINYPROXY, PEERS_HTTP_PROXY_TINYPROXY_AUTH: HTTP
//     CONNECT, the second with Basic auth. No credentials gets 407, but wrong
//     credentials get 401 (not 407), in HTTP/1.0 replies.
//   - PEERS_HTTP_PROXY_SQUID, PEERS_HTTP_PROXY_SQUID_AUTH: HTTP CONNECT, the
//     second with Basic auth; no or wrong credentials get 407.
