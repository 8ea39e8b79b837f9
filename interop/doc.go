// Package interop is smtpkit's interop suite: its tests run the library
// against real third-party servers (Postfix, and later SOCKS and HTTP
// proxies) listening on loopback.
//
// peers.sh in this directory installs and starts the servers and writes
// their addresses to a peers.env file; the tests read the file named by
// SMTPKIT_PEERS_ENV (default /tmp/peers/peers.env). Without running peers
// the tests skip, except when CI=true, where they fail. See README.md here.
package interop
