#!/usr/bin/env bash
# peers.sh — install and run real third-party SMTP servers and proxies on
# loopback, for smtpkit's interop suite (package ./interop).
#
# Debian 12 (bookworm), root, no systemd needed.  Everything listens on
# 127.0.0.1 only, every proxy that supports destination ACLs is restricted to
# 127.0.0.0/8, and no component is configured to do DNS (Postfix peername
# lookup off, Squid DNS pointed at 127.0.0.1).
#
# Usage:  interop/peers.sh [start|stop|restart|status|verify|install|token [user]|env]
#   start   (default) install missing packages (apt-get update + install, non-interactive),
#           write configs, start what is not running; exits non-zero, naming the
#           component and its log, when anything fails to start
#   stop    stop everything started from $PEERS_DIR (waits for the processes to exit)
#   status  list the daemons and listening ports; exits 1 when a peer is down
#   verify  run swaks/curl/gsasl/python checks; prints "peers verify: N ok, M bad", exit 1 if any bad
#   install only install the missing packages
#   token   print a fresh XOAUTH2/OAUTHBEARER JWT accepted on the Dovecot-backed port
#   env     print the peers.env file (ports, users, paths) that the tests read
#
# Knobs (env): PEERS_DIR (default /tmp/peers), PEERS_DOVECOT=1, PEERS_SQUID=1,
#   PEERS_MICROSOCKS=1, PEERS_SSH=1, PEERS_HTTP_ORIGIN=1, PEERS_POSTGRES=1 (set 0 to skip one).
#
# What runs where (all 127.0.0.1):
#   2525 Postfix plain (no STARTTLS, no AUTH)     2528 Postfix "bare": EHLO with no extensions
#   2526 Postfix, Cyrus SASL AUTH in cleartext    2527 Postfix, Dovecot SASL (adds XOAUTH2, OAUTHBEARER)
#   2587 Postfix, STARTTLS required, AUTH after TLS   2465 Postfix, implicit TLS, AUTH required
#   11080 Dante SOCKS4/5 no auth   11081 Dante SOCKS5 user/pass   11082/11083 microsocks no auth / user+pass
#   11084 ssh -D SOCKS4/4a/5 (sshd on 12222)   18888/18889 tinyproxy no auth / Basic
#   13128/13129 squid no auth / Basic          18080 python3 http.server (origin for proxy checks)
#   15432 PostgreSQL (Debian's postgresql; database and user smtpkit, for outbox/postgres), data in $PEERS_DIR/postgres
# Credentials: SMTP testuser/testpass, proxies proxyuser/proxypass, PostgreSQL smtpkit/smtpkit.
# TLS: CA $PEERS_DIR/tls/ca.pem; server cert CN=localhost, SAN localhost, 127.0.0.1, ::1.
# Mail lands in the Maildir $PEERS_DIR/mail/catchall/new/.
set -euo pipefail

PEERS_DIR=${PEERS_DIR:-/tmp/peers}
P=$PEERS_DIR
H=127.0.0.1

# ---- ports -------------------------------------------------------------------
SMTP_PLAIN_PORT=${SMTP_PLAIN_PORT:-2525}        # plain, no TLS, no AUTH
SMTP_AUTHCLEAR_PORT=${SMTP_AUTHCLEAR_PORT:-2526} # plain, AUTH (Cyrus sasldb) over cleartext
SMTP_DOVECOT_PORT=${SMTP_DOVECOT_PORT:-2527}    # plain, AUTH via Dovecot (adds XOAUTH2/OAUTHBEARER)
SMTP_BARE_PORT=${SMTP_BARE_PORT:-2528}          # plain, EHLO with no extensions at all
SMTP_NOCHUNK_PORT=${SMTP_NOCHUNK_PORT:-2529}    # plain, PIPELINING without CHUNKING
SMTP_SUBMIT_PORT=${SMTP_SUBMIT_PORT:-2587}      # STARTTLS required, AUTH required
SMTPS_PORT=${SMTPS_PORT:-2465}                  # implicit TLS, AUTH required
DANTE_PORT=${DANTE_PORT:-11080}                 # SOCKS4 + SOCKS5, no auth
DANTE_AUTH_PORT=${DANTE_AUTH_PORT:-11081}       # SOCKS5 username/password only
MICROSOCKS_PORT=${MICROSOCKS_PORT:-11082}       # SOCKS5, no auth
MICROSOCKS_AUTH_PORT=${MICROSOCKS_AUTH_PORT:-11083} # SOCKS5, username/password required
SSH_SOCKS_PORT=${SSH_SOCKS_PORT:-11084}         # ssh -D: SOCKS4, SOCKS4a, SOCKS5 (no auth)
SSHD_PORT=${SSHD_PORT:-12222}
TINYPROXY_PORT=${TINYPROXY_PORT:-18888}         # HTTP proxy + CONNECT, no auth
TINYPROXY_AUTH_PORT=${TINYPROXY_AUTH_PORT:-18889} # Basic auth (wrong creds -> 401!)
SQUID_PORT=${SQUID_PORT:-13128}                 # HTTP proxy + CONNECT, no auth
SQUID_AUTH_PORT=${SQUID_AUTH_PORT:-13129}       # Basic auth (wrong creds -> 407)
HTTP_ORIGIN_PORT=${HTTP_ORIGIN_PORT:-18080}     # python3 http.server, target for proxy checks
POSTGRES_PORT=${POSTGRES_PORT:-15432}           # PostgreSQL, password login, database smtpkit

SMTP_USER=${SMTP_USER:-testuser}; SMTP_PASS=${SMTP_PASS:-testpass}
PROXY_USER=${PROXY_USER:-proxyuser}; PROXY_PASS=${PROXY_PASS:-proxypass}
PG_USER=${PG_USER:-smtpkit}; PG_PASS=${PG_PASS:-smtpkit}; PG_DB=${PG_DB:-smtpkit}
SASL_REALM=peers.test

PEERS_DOVECOT=${PEERS_DOVECOT:-1}; PEERS_SQUID=${PEERS_SQUID:-1}
PEERS_MICROSOCKS=${PEERS_MICROSOCKS:-1}; PEERS_SSH=${PEERS_SSH:-1}
PEERS_HTTP_ORIGIN=${PEERS_HTTP_ORIGIN:-1}; PEERS_POSTGRES=${PEERS_POSTGRES:-1}

log() { printf '[peers] %s\n' "$*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1fs", b-a}'; }

listening() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
wait_port() { # port [timeout_s]
  local i n=$(( ${2:-10} * 10 ))
  for ((i = 0; i < n; i++)); do listening "$1" && return 0; sleep 0.1; done
  log "ERROR: nothing listening on $H:$1 after ${2:-10}s"; return 1
}
pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# ---- packages ----------------------------------------------------------------
install_packages() {
  local pkgs=(postfix sasl2-bin libsasl2-modules swaks libnet-ssleay-perl libio-socket-ssl-perl
    libauthen-sasl-perl libdigest-hmac-perl gsasl openssl ca-certificates curl iproute2 procps
    dante-server tinyproxy python3)
  [ "$PEERS_DOVECOT" = 1 ] && pkgs+=(dovecot-core)
  [ "$PEERS_SQUID" = 1 ] && pkgs+=(squid)
  [ "$PEERS_MICROSOCKS" = 1 ] && pkgs+=(microsocks)
  [ "$PEERS_SSH" = 1 ] && pkgs+=(openssh-server openssh-client)
  [ "$PEERS_POSTGRES" = 1 ] && pkgs+=(postgresql)
  local missing=() p
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && { log "packages: all present"; return 0; }
  local t0; t0=$(now)
  log "installing: ${missing[*]}"
  # Without systemd, invoke-rc.d would start sshd/squid/tinyproxy/danted/dovecot with their
  # default configs on 0.0.0.0 — block service starts during the install.
  local made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; made_policy=1
  fi
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  echo "postfix postfix/mailname string smtp.peers.test" | debconf-set-selections
  export DEBIAN_FRONTEND=noninteractive
  local rc=0
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
    > "$P/apt.log" 2>&1 || rc=$?
  [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
  if [ $rc -ne 0 ]; then tail -20 "$P/apt.log" >&2; log "ERROR: apt-get failed"; return 1; fi
  log "packages installed in $(since "$t0")"
}

# ---- TLS: CA + server cert (SAN localhost, 127.0.0.1, ::1) ------------------------
make_tls() {
  local d=$P/tls; mkdir -p "$d"
  [ -s "$d/server.pem" ] && [ -s "$d/ca.pem" ] && return 0
  ( cd "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=peers test CA" \
      -keyout ca.key -out ca.pem -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr 2>/dev/null
    printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" "basicConstraints=CA:FALSE" \
      "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" > ext.cnf
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile ext.cnf -out server.pem 2>/dev/null
    chmod 644 ca.pem server.pem; chmod 640 server.key ca.key; chgrp postfix server.key 2>/dev/null || true )
  log "TLS: CA $d/ca.pem, server cert $d/server.pem (CN=localhost, SAN localhost/127.0.0.1/::1)"
}

# ---- Dovecot (auth-only: PLAIN LOGIN CRAM-MD5 DIGEST-MD5 SCRAM-* XOAUTH2 OAUTHBEARER) -------
start_dovecot() {
  [ "$PEERS_DOVECOT" = 1 ] || return 0
  local d=$P/dovecot
  if pid_alive "$d/run/master.pid"; then log "dovecot: already running"; return 0; fi
  rm -rf "$d/run"; mkdir -p "$d/run" "$d/state" "$d/keys/default/HS256"
  printf '%s:{PLAIN}%s\n' "$SMTP_USER" "$SMTP_PASS" > "$d/users"
  # HS256 key for locally-validated JWT bearer tokens (file holds base64 of the raw key)
  [ -s "$d/oauth.key" ] || head -c 32 /dev/urandom | base64 -w0 > "$d/oauth.key"
  cp "$d/oauth.key" "$d/keys/default/HS256/default"
  chmod -R a+rX "$d/keys"
  cat > "$d/oauth2.conf.ext" <<EOF
introspection_mode = local
local_validation_key_dict = fs:posix:prefix=$d/keys/
username_attribute = sub
EOF
  cat > "$d/dovecot.conf" <<EOF
protocols =
listen = 127.0.0.1
base_dir = $d/run
state_dir = $d/state
log_path = $d/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login cram-md5 digest-md5 scram-sha-1 scram-sha-256 xoauth2 oauthbearer
auth_failure_delay = 0
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $d/oauth2.conf.ext
}
passdb {
  driver = passwd-file
  mechanisms = plain login cram-md5 digest-md5 scram-sha-1 scram-sha-256
  args = scheme=PLAIN username_format=%n $d/users
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=$P/mail
}
service auth {
  unix_listener auth-postfix {
    mode = 0660
    user = postfix
    group = postfix
  }
}
service anvil {
  chroot =
  # no per-IP auth-failure penalty (else repeated failures from 127.0.0.1 stall up to 15 s)
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
EOF
  dovecot -c "$d/dovecot.conf" </dev/null >>"$d/dovecot.out" 2>&1   # (dovecot keeps stderr open: never leave it on a pipe)
  local i; for ((i = 0; i < 50; i++)); do [ -S "$d/run/auth-postfix" ] && break; sleep 0.1; done
  [ -S "$d/run/auth-postfix" ] || { log "ERROR: dovecot auth socket missing"; tail "$d/dovecot.log" >&2; return 1; }
  log "dovecot: auth socket $d/run/auth-postfix"
}

# ---- Postfix (Cyrus SASL sasldb + optional Dovecot SASL) --------------------------
start_postfix() {
  local c=$P/postfix
  mkdir -p "$c/sasl" "$P/spool" "$P/mail/catchall"
  chown -R 65534:65534 "$P/mail"
  # Cyrus sasldb: plaintext secret -> PLAIN LOGIN CRAM-MD5 DIGEST-MD5 SCRAM-SHA-1/256
  if [ ! -s "$c/sasl/sasldb2" ]; then
    printf '%s' "$SMTP_PASS" | saslpasswd2 -p -c -f "$c/sasl/sasldb2" -u "$SASL_REALM" "$SMTP_USER"
  fi
  chown root:postfix "$c/sasl/sasldb2"; chmod 640 "$c/sasl/sasldb2"
  cat > "$c/sasl/smtpd.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
mech_list: PLAIN LOGIN CRAM-MD5 DIGEST-MD5 SCRAM-SHA-1 SCRAM-SHA-256
sasldb_path: $c/sasl/sasldb2
EOF
  printf '/./ OK\n' > "$c/catchall_domains"
  printf '/./ catchall/\n' > "$c/catchall_mailbox"
  # mail for discard.peers.test is accepted and thrown away: the send
  # benchmark's many messages stay out of the Maildir the tests read
  printf '/@discard\\.peers\\.test$/ discard:\n' > "$c/transport"
  # one recipient every port refuses, for the tests of a refusal mid-batch
  printf '/^refused@peers\\.test$/ REJECT 5.1.1 refused for the tests\n' > "$c/refused"
  cat > "$c/main.cf" <<EOF
compatibility_level = 3.6
config_directory = $c
queue_directory = $P/spool
data_directory = $P/postfix-data
mail_owner = postfix
setgid_group = postdrop
myhostname = smtp.peers.test
mydomain = peers.test
myorigin = \$myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination =
relayhost =
alias_maps =
alias_database =
local_recipient_maps =
biff = no
# no syslog here: log to a file (path must match maillog_file_prefixes)
maillog_file = $P/postfix.log
maillog_file_prefixes = /var, /dev/stdout, $P
smtpd_banner = \$myhostname ESMTP peers-test
smtpd_peername_lookup = no
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
smtpd_recipient_restrictions = check_recipient_access regexp:$c/refused
message_size_limit = 10485760
# every accepted message -> one Maildir: $P/mail/catchall/new/
virtual_mailbox_domains = regexp:$c/catchall_domains
virtual_mailbox_maps = regexp:$c/catchall_mailbox
virtual_mailbox_base = $P/mail
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
virtual_mailbox_limit = 0
transport_maps = regexp:$c/transport
smtpd_tls_cert_file = $P/tls/server.pem
smtpd_tls_key_file = $P/tls/server.key
smtpd_tls_security_level = none
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = $c/sasl
smtpd_sasl_local_domain = $SASL_REALM
smtpd_sasl_auth_enable = no
smtpd_sasl_security_options = noanonymous
smtpd_sasl_tls_security_options = noanonymous
smtpd_sasl_authenticated_header = yes
EOF
  {
    cat <<EOF
# all services chroot=n (no /var/spool/postfix/etc copies needed)
$H:$SMTP_PLAIN_PORT inet n - n - - smtpd
  -o syslog_name=postfix/plain
$H:$SMTP_BARE_PORT inet n - n - - smtpd
  -o syslog_name=postfix/bare
  -o smtpd_discard_ehlo_keywords=pipelining,size,vrfy,etrn,enhancedstatuscodes,8bitmime,dsn,smtputf8,chunking,silent-discard
$H:$SMTP_NOCHUNK_PORT inet n - n - - smtpd
  -o syslog_name=postfix/nochunk
  -o smtpd_discard_ehlo_keywords=chunking,silent-discard
$H:$SMTP_AUTHCLEAR_PORT inet n - n - - smtpd
  -o syslog_name=postfix/authclear
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_auth_only=no
$H:$SMTP_SUBMIT_PORT inet n - n - - smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_tls_auth_only=yes
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
$H:$SMTPS_PORT inet n - n - - smtpd
  -o syslog_name=postfix/smtps
  -o smtpd_tls_wrappermode=yes
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
EOF
    if [ "$PEERS_DOVECOT" = 1 ]; then cat <<EOF
$H:$SMTP_DOVECOT_PORT inet n - n - - smtpd
  -o syslog_name=postfix/dovecotauth
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_auth_only=no
  -o smtpd_sasl_type=dovecot
  -o smtpd_sasl_path=$P/dovecot/run/auth-postfix
EOF
    fi
    cat <<'EOF'
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
  } > "$c/master.cf"
  if postfix -c "$c" status >/dev/null 2>&1; then
    postfix -c "$c" reload </dev/null >/dev/null 2>&1; log "postfix: already running (reloaded)"
  else
    # postfix reports fatal errors only to syslog (absent here) unless stderr is a tty
    if ! postfix -c "$c" start </dev/null >/dev/null 2>&1; then
      log "ERROR: postfix start failed; its message:"; script -qc "postfix -c $c start" /dev/null >&2 || true
      return 1
    fi
  fi
  local p; for p in $SMTP_PLAIN_PORT $SMTP_BARE_PORT $SMTP_NOCHUNK_PORT $SMTP_AUTHCLEAR_PORT $SMTP_SUBMIT_PORT $SMTPS_PORT; do wait_port "$p"; done
  [ "$PEERS_DOVECOT" = 1 ] && wait_port "$SMTP_DOVECOT_PORT"
  log "postfix: $H ports plain=$SMTP_PLAIN_PORT authclear=$SMTP_AUTHCLEAR_PORT bare=$SMTP_BARE_PORT nochunk=$SMTP_NOCHUNK_PORT submission=$SMTP_SUBMIT_PORT smtps=$SMTPS_PORT$([ "$PEERS_DOVECOT" = 1 ] && echo " dovecot-auth=$SMTP_DOVECOT_PORT")"
}

# ---- Dante (SOCKS4/5) ------------------------------------------------------------
ensure_proxy_user() { # system account for Dante's "username" method (checks /etc/shadow)
  id "$PROXY_USER" >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin "$PROXY_USER"
  echo "$PROXY_USER:$PROXY_PASS" | chpasswd
}
start_dante() { # name port method
  local d=$P/dante name=$1 port=$2 method=$3; mkdir -p "$d"
  if pid_alive "$d/$name.pid" && listening "$port"; then log "danted-$name: already running"; return 0; fi
  cat > "$d/$name.conf" <<EOF
logoutput: $d/$name.log
internal: $H port = $port
external: $H
clientmethod: none
socksmethod: $method
user.privileged: root
user.unprivileged: nobody
client pass {
  from: 127.0.0.0/8 to: 0.0.0.0/0
  log: error
}
socks pass {
  from: 127.0.0.0/8 to: 127.0.0.0/8
  command: bind connect udpassociate bindreply udpreply
  log: error connect
}
socks block {
  from: 0.0.0.0/0 to: 0.0.0.0/0
  log: error connect
}
EOF
  danted -D -f "$d/$name.conf" -p "$d/$name.pid" </dev/null >>"$d/$name.out" 2>&1
  wait_port "$port"; log "danted-$name: $H:$port ($method)"
}

start_bg() { # name pidfile logfile cmd...  (setsid, own session, pid recorded)
  local name=$1 pidf=$2 logf=$3; shift 3
  setsid nohup "$@" > "$logf" 2>&1 < /dev/null &
  echo $! > "$pidf"
}

start_microsocks() {
  [ "$PEERS_MICROSOCKS" = 1 ] || return 0
  local d=$P/microsocks; mkdir -p "$d"
  pid_alive "$d/noauth.pid" || start_bg microsocks "$d/noauth.pid" "$d/noauth.log" microsocks -i $H -p "$MICROSOCKS_PORT"
  pid_alive "$d/auth.pid" || start_bg microsocks "$d/auth.pid" "$d/auth.log" microsocks -i $H -p "$MICROSOCKS_AUTH_PORT" -u "$PROXY_USER" -P "$PROXY_PASS"
  wait_port "$MICROSOCKS_PORT"; wait_port "$MICROSOCKS_AUTH_PORT"
  log "microsocks: $H:$MICROSOCKS_PORT (no auth), $H:$MICROSOCKS_AUTH_PORT (user/pass)"
}

start_ssh_socks() {
  [ "$PEERS_SSH" = 1 ] || return 0
  local d=$P/ssh; mkdir -p "$d" /run/sshd
  [ -s "$d/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$d/host_ed25519"
  [ -s "$d/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$d/id_ed25519"
  cp "$d/id_ed25519.pub" "$d/authorized_keys"
  cat > "$d/sshd_config" <<EOF
Port $SSHD_PORT
ListenAddress $H
HostKey $d/host_ed25519
PidFile $d/sshd.pid
AuthorizedKeysFile $d/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowTcpForwarding local
PermitOpen 127.0.0.1:* localhost:*
X11Forwarding no
PermitTTY no
EOF
  if ! pid_alive "$d/sshd.pid"; then /usr/sbin/sshd -f "$d/sshd_config" -E "$d/sshd.log" </dev/null >/dev/null 2>&1; fi
  wait_port "$SSHD_PORT"
  if ! pid_alive "$d/client.pid"; then
    start_bg ssh "$d/client.pid" "$d/client.log" ssh -N -D "$H:$SSH_SOCKS_PORT" -p "$SSHD_PORT" \
      -i "$d/id_ed25519" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
      -o ExitOnForwardFailure=yes -o BatchMode=yes -o ServerAliveInterval=30 -o LogLevel=ERROR root@$H
  fi
  wait_port "$SSH_SOCKS_PORT"; log "ssh -D: $H:$SSH_SOCKS_PORT (SOCKS4/4a/5, no auth) via sshd $H:$SSHD_PORT"
}

start_tinyproxy() { # name port [auth]
  local d=$P/tinyproxy name=$1 port=$2; mkdir -p "$d"
  if pid_alive "$d/$name.pid" && listening "$port"; then log "tinyproxy-$name: already running"; return 0; fi
  printf '%s\n' '^127\.0\.0\.1$' '^localhost$' > "$d/filter"
  cat > "$d/$name.conf" <<EOF
User nobody
Group nogroup
Listen $H
Bind $H
Port $port
Timeout 60
LogFile "$d/$name.log"
LogLevel Info
PidFile "$d/$name.pid"
MaxClients 50
Allow 127.0.0.1
DisableViaHeader Yes
# allow-list of destination hosts (CONNECT and plain requests)
Filter "$d/filter"
FilterDefaultDeny Yes
FilterType ere
EOF
  [ "${3:-}" = auth ] && echo "BasicAuth $PROXY_USER $PROXY_PASS" >> "$d/$name.conf"
  chown -R nobody:nogroup "$d"
  tinyproxy -c "$d/$name.conf" </dev/null >>"$d/$name.out" 2>&1   # daemonizes, drops to nobody
  wait_port "$port"; log "tinyproxy-$name: $H:$port"
}

start_squid() {
  [ "$PEERS_SQUID" = 1 ] || return 0
  local d=$P/squid; mkdir -p "$d"
  if pid_alive "$d/squid.pid" && listening "$SQUID_PORT"; then log "squid: already running"; return 0; fi
  printf '%s:%s\n' "$PROXY_USER" "$(openssl passwd -apr1 "$PROXY_PASS")" > "$d/passwd"
  cat > "$d/squid.conf" <<EOF
http_port $H:$SQUID_PORT name=noauth
http_port $H:$SQUID_AUTH_PORT name=auth
visible_hostname squid.peers.test
pid_filename $d/squid.pid
cache_log $d/cache.log
access_log stdio:$d/access.log
cache_store_log none
cache deny all
coredump_dir $d
cache_effective_user proxy
pinger_enable off
dns_nameservers 127.0.0.1
hosts_file /etc/hosts
shutdown_lifetime 1 seconds
auth_param basic program /usr/lib/squid/basic_ncsa_auth $d/passwd
auth_param basic children 2 startup=1 idle=1
auth_param basic realm peers-test
acl noauthport myportname noauth
acl authport myportname auth
acl authed proxy_auth REQUIRED
acl loopdst dst 127.0.0.0/8
acl localsrc src 127.0.0.0/8
http_access deny !localsrc
http_access deny !loopdst
http_access allow noauthport
http_access allow authport authed
http_access deny all
EOF
  chown -R proxy:proxy "$d"
  squid -f "$d/squid.conf" -k parse > "$d/parse.log" 2>&1 || { cat "$d/parse.log" >&2; return 1; }
  rm -f "$d/squid.pid"; squid -f "$d/squid.conf" </dev/null >>"$d/squid.out" 2>&1
  wait_port "$SQUID_PORT" 20; wait_port "$SQUID_AUTH_PORT" 20
  log "squid: $H:$SQUID_PORT (no auth), $H:$SQUID_AUTH_PORT (Basic)"
}

start_http_origin() {
  [ "$PEERS_HTTP_ORIGIN" = 1 ] || return 0
  local d=$P/www; mkdir -p "$d"; echo "hello from loopback http" > "$d/index.txt"
  pid_alive "$P/http.pid" || (cd "$d" && start_bg http "$P/http.pid" "$P/http.log" python3 -m http.server "$HTTP_ORIGIN_PORT" --bind $H)
  wait_port "$HTTP_ORIGIN_PORT"
}

# ---- PostgreSQL (a cluster of its own under $P/postgres, run as the postgres user) -------
pg_bin() { # the newest installed server's bin directory
  local d; d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$d" ] && [ -x "$d/pg_ctl" ] || { log "ERROR: no PostgreSQL server under /usr/lib/postgresql (apt-get install postgresql)"; return 1; }
  echo "$d"
}
pg() { runuser -u postgres -- "$@"; }
start_postgres() {
  [ "$PEERS_POSTGRES" = 1 ] || return 0
  local d=$P/postgres bin; bin=$(pg_bin)
  mkdir -p "$d/run"; chown postgres:postgres "$d" "$d/run"; chmod 700 "$d"
  if pid_alive "$d/postgres.pid" && listening "$POSTGRES_PORT"; then log "postgres: already running"; return 0; fi
  if [ ! -s "$d/data/PG_VERSION" ]; then
    rm -rf "$d/data"
    pg "$bin/initdb" -D "$d/data" -U postgres -E UTF8 --locale=C --auth-local=peer --auth-host=scram-sha-256 \
      > "$d/initdb.log" 2>&1 || { tail "$d/initdb.log" >&2; return 1; }
  fi
  # Settings on the command line: the cluster listens on loopback only, keeps its
  # socket and a plain pid file under $d, and logs to a file.
  pg "$bin/pg_ctl" -D "$d/data" -l "$d/postgres.log" -w -t 30 \
    -o "-c listen_addresses=$H -p $POSTGRES_PORT -c unix_socket_directories=$d/run -c external_pid_file=$d/postgres.pid -c max_connections=200" \
    start </dev/null >>"$d/pg_ctl.out" 2>&1 || { tail "$d/postgres.log" >&2; return 1; }
  wait_port "$POSTGRES_PORT"
  local psql=(pg "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$d/run" -p "$POSTGRES_PORT" -U postgres -d postgres)
  "${psql[@]}" -v user="$PG_USER" -v pass="$PG_PASS" >>"$d/setup.log" 2>&1 <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'user') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'user') \gexec
SELECT format('ALTER ROLE %I PASSWORD %L', :'user', :'pass') \gexec
SQL
  if ! "${psql[@]}" -tA -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'" | grep -q 1; then
    "${psql[@]}" -c "CREATE DATABASE \"$PG_DB\" OWNER \"$PG_USER\"" >>"$d/setup.log" 2>&1
  fi
  log "postgres: $H:$POSTGRES_PORT database $PG_DB, user $PG_USER ($("$bin/postgres" --version))"
}

write_env() {
  cat > "$P/peers.env" <<EOF
# generated by interop/peers.sh — read by the interop tests (SMTPKIT_PEERS_ENV)
PEERS_DIR=$P
PEERS_SMTP_PLAIN=$H:$SMTP_PLAIN_PORT
PEERS_SMTP_BARE=$H:$SMTP_BARE_PORT
PEERS_SMTP_NOCHUNK=$H:$SMTP_NOCHUNK_PORT
PEERS_SMTP_AUTH_CLEARTEXT=$H:$SMTP_AUTHCLEAR_PORT
PEERS_SMTP_SUBMISSION=$H:$SMTP_SUBMIT_PORT
PEERS_SMTPS=$H:$SMTPS_PORT
$([ "$PEERS_DOVECOT" = 1 ] && echo "PEERS_SMTP_DOVECOT=$H:$SMTP_DOVECOT_PORT")
PEERS_SMTP_USER=$SMTP_USER
PEERS_SMTP_PASS=$SMTP_PASS
PEERS_SMTP_TLS_SERVERNAME=localhost
PEERS_CA_PEM=$P/tls/ca.pem
PEERS_MAILDIR=$P/mail/catchall
$([ "$PEERS_DOVECOT" = 1 ] && echo "PEERS_OAUTH_HS256_KEY_B64_FILE=$P/dovecot/oauth.key")
PEERS_SOCKS_DANTE=$H:$DANTE_PORT
PEERS_SOCKS_DANTE_AUTH=$H:$DANTE_AUTH_PORT
$([ "$PEERS_MICROSOCKS" = 1 ] && printf 'PEERS_SOCKS_MICROSOCKS=%s\nPEERS_SOCKS_MICROSOCKS_AUTH=%s\n' "$H:$MICROSOCKS_PORT" "$H:$MICROSOCKS_AUTH_PORT")
$([ "$PEERS_SSH" = 1 ] && echo "PEERS_SOCKS_SSH=$H:$SSH_SOCKS_PORT")
PEERS_HTTP_PROXY_TINYPROXY=$H:$TINYPROXY_PORT
PEERS_HTTP_PROXY_TINYPROXY_AUTH=$H:$TINYPROXY_AUTH_PORT
$([ "$PEERS_SQUID" = 1 ] && printf 'PEERS_HTTP_PROXY_SQUID=%s\nPEERS_HTTP_PROXY_SQUID_AUTH=%s\n' "$H:$SQUID_PORT" "$H:$SQUID_AUTH_PORT")
PEERS_PROXY_USER=$PROXY_USER
PEERS_PROXY_PASS=$PROXY_PASS
$([ "$PEERS_POSTGRES" = 1 ] && echo "PEERS_POSTGRES_URL=postgres://$PG_USER:$PG_PASS@$H:$POSTGRES_PORT/$PG_DB?sslmode=disable")
EOF
  sed -i '/^$/d' "$P/peers.env"
}

# step NAME LOG FUNC ARGS...: run one start step; when it fails, the ERR trap
# (set in cmd_start) names the component and the log to read.
STEP="" STEP_LOG=""
step() { STEP=$1 STEP_LOG=$2; shift 2; "$@"; STEP="" STEP_LOG=""; }
on_start_error() {
  local rc=$1
  [ "$BASH_SUBSHELL" -gt 0 ] && exit "$rc"   # a failing ( ... ) inside a step: reported by the parent
  log "FAILED: could not start ${STEP:-the peers} (exit $rc)${STEP_LOG:+; see $STEP_LOG}"
  [ -n "$STEP_LOG" ] && [ -f "$STEP_LOG" ] && tail -n 15 "$STEP_LOG" | sed 's/^/[peers]   | /' >&2
  log "run '$0 stop' to clean up, or '$0 start' again to retry"
  exit "$rc"
}

# expected_ports: every port start is supposed to open, given the knobs.
expected_ports() {
  echo "$SMTP_PLAIN_PORT $SMTP_BARE_PORT $SMTP_NOCHUNK_PORT $SMTP_AUTHCLEAR_PORT $SMTP_SUBMIT_PORT $SMTPS_PORT $DANTE_PORT $DANTE_AUTH_PORT $TINYPROXY_PORT $TINYPROXY_AUTH_PORT"
  [ "$PEERS_DOVECOT" = 1 ] && echo "$SMTP_DOVECOT_PORT"
  [ "$PEERS_MICROSOCKS" = 1 ] && echo "$MICROSOCKS_PORT $MICROSOCKS_AUTH_PORT"
  [ "$PEERS_SSH" = 1 ] && echo "$SSHD_PORT $SSH_SOCKS_PORT"
  [ "$PEERS_SQUID" = 1 ] && echo "$SQUID_PORT $SQUID_AUTH_PORT"
  [ "$PEERS_HTTP_ORIGIN" = 1 ] && echo "$HTTP_ORIGIN_PORT"
  [ "$PEERS_POSTGRES" = 1 ] && echo "$POSTGRES_PORT"
  return 0
}
missing_ports() { local p out=(); for p in $(expected_ports); do listening "$p" || out+=("$p"); done; echo "${out[*]}"; }

cmd_install() {
  mkdir -p "$P"
  set -E; trap 'on_start_error $?' ERR
  step "the packages (apt-get)" "$P/apt.log" install_packages
  trap - ERR
}

cmd_start() {
  mkdir -p "$P"; local t0; t0=$(now)
  set -E; trap 'on_start_error $?' ERR
  step "the packages (apt-get)" "$P/apt.log" install_packages
  local t1; t1=$(now)
  step "the TLS certificates (openssl)" "" make_tls
  # dovecot before postfix: smtpd on the dovecot port dies if the socket is missing
  step dovecot "$P/dovecot/dovecot.log" start_dovecot
  step postfix "$P/postfix.log" start_postfix
  step "the proxy user account" "" ensure_proxy_user
  step "danted (no auth)" "$P/dante/noauth.log" start_dante noauth "$DANTE_PORT" none
  step "danted (auth)" "$P/dante/auth.log" start_dante auth "$DANTE_AUTH_PORT" username
  step microsocks "$P/microsocks/noauth.log" start_microsocks
  step "sshd / ssh -D" "$P/ssh/sshd.log" start_ssh_socks
  step "tinyproxy (no auth)" "$P/tinyproxy/noauth.log" start_tinyproxy noauth "$TINYPROXY_PORT"
  step "tinyproxy (auth)" "$P/tinyproxy/auth.log" start_tinyproxy auth "$TINYPROXY_AUTH_PORT" auth
  step squid "$P/squid/cache.log" start_squid
  step "the HTTP origin" "$P/http.log" start_http_origin
  step postgres "$P/postgres/postgres.log" start_postgres
  trap - ERR
  local missing; missing=$(missing_ports)
  if [ -n "$missing" ]; then
    log "FAILED: nothing listening on $H port(s) $missing; logs under $P"; exit 1
  fi
  write_env
  log "started in $(since "$t1") (total incl. install $(since "$t0")); env: $P/peers.env"
}

wait_gone() { # pid... : wait up to 10 s for each to exit
  local p i
  for p in "$@"; do for ((i = 0; i < 100; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; done
}
cmd_stop() {
  [ -d "$P" ] || return 0
  local f pids=()
  for f in "$P/spool/pid/master.pid" "$P/dovecot/run/master.pid" "$P/squid/squid.pid"; do
    pid_alive "$f" && pids+=("$(tr -d ' ' < "$f")")
  done
  [ -f "$P/postfix/main.cf" ] && postfix -c "$P/postfix" stop </dev/null >/dev/null 2>&1 || true
  [ -f "$P/dovecot/dovecot.conf" ] && dovecot -c "$P/dovecot/dovecot.conf" stop </dev/null >/dev/null 2>&1 || true
  pid_alive "$P/squid/squid.pid" && squid -f "$P/squid/squid.conf" -k shutdown </dev/null >/dev/null 2>&1 || true
  # ssh client before sshd, so the per-connection sshd child goes away too
  for f in "$P/ssh/client.pid" "$P/ssh/sshd.pid" "$P/dante/noauth.pid" "$P/dante/auth.pid" \
           "$P/microsocks/noauth.pid" "$P/microsocks/auth.pid" "$P/tinyproxy/noauth.pid" \
           "$P/tinyproxy/auth.pid" "$P/http.pid"; do
    if pid_alive "$f"; then pids+=("$(cat "$f")"); kill "$(cat "$f")" 2>/dev/null || true; fi
    rm -f "$f"
  done
  if pid_alive "$P/postgres/postgres.pid"; then
    pids+=("$(cat "$P/postgres/postgres.pid")")
    pg "$(pg_bin)/pg_ctl" -D "$P/postgres/data" -m fast -w -t 30 stop </dev/null >/dev/null 2>&1 \
      || kill "$(cat "$P/postgres/postgres.pid")" 2>/dev/null || true
  fi
  wait_gone "${pids[@]}"
  # without peers.env the tests say plainly that the peers are not started
  rm -f "$P/peers.env"
  log "stopped"
}

cmd_status() {
  local f down=0
  for f in "$P/spool/pid/master.pid" "$P/dovecot/run/master.pid" "$P/dante/noauth.pid" "$P/dante/auth.pid" \
           "$P/microsocks/noauth.pid" "$P/microsocks/auth.pid" "$P/ssh/sshd.pid" "$P/ssh/client.pid" \
           "$P/tinyproxy/noauth.pid" "$P/tinyproxy/auth.pid" "$P/squid/squid.pid" "$P/http.pid" \
           "$P/postgres/postgres.pid"; do
    if pid_alive "$f"; then printf 'up   %-8s %s\n' "$(tr -d ' ' < "$f")" "$f"; else printf 'DOWN %-8s %s\n' - "$f"; fi
  done
  ss -Hltnp | awk '$4 ~ /^127\.0\.0\.1:/ {print "listen", $4, $6}'
  local missing; missing=$(missing_ports)
  if [ -n "$missing" ]; then echo "peers status: not listening on $missing"; return 1; fi
  echo "peers status: all up"
}

cmd_token() { # user -> HS256 JWT valid 1h, accepted by Dovecot's oauth2 passdb
  python3 - "$P/dovecot/oauth.key" "${1:-$SMTP_USER}" <<'EOF'
import base64, hmac, hashlib, json, sys, time
key = base64.b64decode(open(sys.argv[1]).read().strip()); sub = sys.argv[2]
b = lambda x: base64.urlsafe_b64encode(x).rstrip(b'=').decode()
now = int(time.time())
h = b(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
p = b(json.dumps({"sub": sub, "iat": now, "nbf": now, "exp": now + 3600}).encode())
print(h + "." + p + "." + b(hmac.new(key, (h + "." + p).encode(), hashlib.sha256).digest()))
EOF
}

# ---- verification -------------------------------------------------------------
OK=0; BAD=0
check() { # label expected-regex cmd...
  local label=$1 re=$2 out; shift 2
  out=$("$@" 2>&1) || true
  if grep -Eq -- "$re" <<<"$out"; then OK=$((OK + 1)); printf '  ok   %s\n' "$label"
  else BAD=$((BAD + 1)); printf '  BAD  %s (wanted /%s/)\n%s\n' "$label" "$re" "$(tail -5 <<<"$out" | sed 's/^/       | /')"; fi
}
cmd_verify() {
  local CA=$P/tls/ca.pem U=http://$H:$HTTP_ORIGIN_PORT/index.txt UH=http://localhost:$HTTP_ORIGIN_PORT/index.txt
  local S=(swaks --server $H --from alice@example.com --to bob@example.org)
  echo "SMTP (Postfix $(postconf -d -h mail_version 2>/dev/null))"
  check "plain $SMTP_PLAIN_PORT send" '250 2.0.0 Ok: queued' "${S[@]}" --port "$SMTP_PLAIN_PORT"
  check "plain $SMTP_PLAIN_PORT no STARTTLS offered" 'advertise' "${S[@]}" --port "$SMTP_PLAIN_PORT" --tls
  check "bare $SMTP_BARE_PORT advertises nothing" '^<-  250 smtp.peers.test$' "${S[@]}" --port "$SMTP_BARE_PORT" --quit-after EHLO
  check "nochunk $SMTP_NOCHUNK_PORT offers PIPELINING" '^<-  250-PIPELINING' "${S[@]}" --port "$SMTP_NOCHUNK_PORT" --quit-after EHLO
  check "plain $SMTP_PLAIN_PORT refuses refused@peers.test" '554 5.1.1' swaks --server $H --from alice@example.com --to refused@peers.test --port "$SMTP_PLAIN_PORT"
  check "submission $SMTP_SUBMIT_PORT STARTTLS+PLAIN (verified CA)" '250 2.0.0 Ok: queued' "${S[@]}" --port "$SMTP_SUBMIT_PORT" --tls --tls-verify --tls-ca-path "$CA" --tls-sni localhost --auth PLAIN --auth-user "$SMTP_USER" --auth-password "$SMTP_PASS"
  check "submission $SMTP_SUBMIT_PORT MAIL before STARTTLS -> 530" '530 5.7.0 Must issue a STARTTLS' "${S[@]}" --port "$SMTP_SUBMIT_PORT"
  check "submission $SMTP_SUBMIT_PORT no AUTH -> 554 at RCPT" '554 5.7.1' "${S[@]}" --port "$SMTP_SUBMIT_PORT" --tls
  check "submission $SMTP_SUBMIT_PORT wrong password -> 535" '535 5.7.8' "${S[@]}" --port "$SMTP_SUBMIT_PORT" --tls --auth PLAIN --auth-user "$SMTP_USER" --auth-password wrong
  check "smtps $SMTPS_PORT implicit TLS+LOGIN" '250 2.0.0 Ok: queued' "${S[@]}" --port "$SMTPS_PORT" --tls-on-connect --auth LOGIN --auth-user "$SMTP_USER" --auth-password "$SMTP_PASS"
  check "smtps $SMTPS_PORT CRAM-MD5" '235 2.7.0' "${S[@]}" --port "$SMTPS_PORT" --tls-on-connect --auth CRAM-MD5 --auth-user "$SMTP_USER" --auth-password "$SMTP_PASS"
  check "smtps $SMTPS_PORT wrong password CRAM-MD5 -> 535" '535 5.7.8' "${S[@]}" --port "$SMTPS_PORT" --tls-on-connect --auth CRAM-MD5 --auth-user "$SMTP_USER" --auth-password wrong
  check "authclear $SMTP_AUTHCLEAR_PORT CRAM-MD5" '235 2.7.0' "${S[@]}" --port "$SMTP_AUTHCLEAR_PORT" --auth CRAM-MD5 --auth-user "$SMTP_USER" --auth-password "$SMTP_PASS"
  check "authclear $SMTP_AUTHCLEAR_PORT DIGEST-MD5" '235 2.7.0' "${S[@]}" --port "$SMTP_AUTHCLEAR_PORT" --auth DIGEST-MD5 --auth-user "$SMTP_USER" --auth-password "$SMTP_PASS"
  check "authclear $SMTP_AUTHCLEAR_PORT SCRAM-SHA-256 (gsasl)" '^235 ' timeout 10 gsasl --client --smtp --connect "$H:$SMTP_AUTHCLEAR_PORT" --no-starttls --mechanism SCRAM-SHA-256 --authentication-id "$SMTP_USER" --password "$SMTP_PASS" --quiet
  check "submission $SMTP_SUBMIT_PORT SCRAM-SHA-256 over STARTTLS (gsasl --no-cb)" '^235 ' timeout 10 gsasl --client --smtp --connect "$H:$SMTP_SUBMIT_PORT" --x509-ca-file "$CA" --no-cb --mechanism SCRAM-SHA-256 --authentication-id "$SMTP_USER" --password "$SMTP_PASS"
  check "size limit 10 MiB -> 552" '552 5.3.4' "${S[@]}" --port "$SMTP_PLAIN_PORT" --attach-type application/octet-stream --attach @<(head -c 11000000 /dev/zero)
  if [ "$PEERS_DOVECOT" = 1 ]; then
    check "dovecot $SMTP_DOVECOT_PORT PLAIN" '235 2.7.0' "${S[@]}" --port "$SMTP_DOVECOT_PORT" --auth PLAIN --auth-user "$SMTP_USER" --auth-password "$SMTP_PASS"
    check "dovecot $SMTP_DOVECOT_PORT CRAM-MD5" '235 2.7.0' "${S[@]}" --port "$SMTP_DOVECOT_PORT" --auth CRAM-MD5 --auth-user "$SMTP_USER" --auth-password "$SMTP_PASS"
    check "dovecot $SMTP_DOVECOT_PORT wrong password -> 535" '535 5.7.8' "${S[@]}" --port "$SMTP_DOVECOT_PORT" --auth LOGIN --auth-user "$SMTP_USER" --auth-password wrong
    local tok; tok=$(cmd_token "$SMTP_USER")
    check "dovecot $SMTP_DOVECOT_PORT XOAUTH2 good token" '^235 ' python3 -c '
import base64,smtplib,sys
s=smtplib.SMTP(sys.argv[1],int(sys.argv[2]),timeout=10); s.ehlo("t")
ir=base64.b64encode(("user=%s\x01auth=Bearer %s\x01\x01"%(sys.argv[3],sys.argv[4])).encode()).decode()
c,m=s.docmd("AUTH","XOAUTH2 "+ir); print(c,m.decode())' $H "$SMTP_DOVECOT_PORT" "$SMTP_USER" "$tok"
    check "dovecot $SMTP_DOVECOT_PORT XOAUTH2 token for other user -> 334 error JSON" '^334 eyJ' python3 -c '
import base64,smtplib,sys
s=smtplib.SMTP(sys.argv[1],int(sys.argv[2]),timeout=10); s.ehlo("t")
ir=base64.b64encode(("user=%s\x01auth=Bearer %s\x01\x01"%(sys.argv[3],sys.argv[4])).encode()).decode()
c,m=s.docmd("AUTH","XOAUTH2 "+ir); print(c,m.decode())' $H "$SMTP_DOVECOT_PORT" someoneelse "$tok"
  fi
  echo "SOCKS"
  check "dante $DANTE_PORT socks4" '^hello' curl -sS -m 5 --socks4 $H:$DANTE_PORT $U
  check "dante $DANTE_PORT socks5" '^hello' curl -sS -m 5 --socks5 $H:$DANTE_PORT $U
  check "dante $DANTE_PORT socks5-hostname" '^hello' curl -sS -m 5 --socks5-hostname $H:$DANTE_PORT $UH
  check "dante $DANTE_PORT socks4a unsupported" '\(97\)' curl -sS -m 5 --socks4a $H:$DANTE_PORT $UH
  check "dante-auth $DANTE_AUTH_PORT socks5 user/pass" '^hello' curl -sS -m 5 --socks5-hostname $H:$DANTE_AUTH_PORT -U "$PROXY_USER:$PROXY_PASS" $UH
  check "dante-auth $DANTE_AUTH_PORT no creds rejected" 'No authentication method was acceptable' curl -sS -m 5 --socks5 $H:$DANTE_AUTH_PORT $U
  check "dante-auth $DANTE_AUTH_PORT wrong pass rejected" 'User was rejected' curl -sS -m 5 --socks5 $H:$DANTE_AUTH_PORT -U "$PROXY_USER:bad" $U
  check "dante $DANTE_PORT blocks non-loopback dst (127/8 only ACL)" '\(97\)' curl -sS -m 5 --socks4 $H:$DANTE_PORT http://0.0.0.1:1/
  if [ "$PEERS_MICROSOCKS" = 1 ]; then
    check "microsocks $MICROSOCKS_PORT socks5h" '^hello' curl -sS -m 5 --socks5-hostname $H:$MICROSOCKS_PORT $UH
    check "microsocks-auth $MICROSOCKS_AUTH_PORT socks5 user/pass" '^hello' curl -sS -m 5 --socks5 $H:$MICROSOCKS_AUTH_PORT -U "$PROXY_USER:$PROXY_PASS" $U
    check "microsocks-auth $MICROSOCKS_AUTH_PORT wrong pass rejected" 'User was rejected' curl -sS -m 5 --socks5 $H:$MICROSOCKS_AUTH_PORT -U "$PROXY_USER:bad" $U
    check "microsocks $MICROSOCKS_PORT socks4 unsupported" '\(97\)' curl -sS -m 5 --socks4 $H:$MICROSOCKS_PORT $U
  fi
  if [ "$PEERS_SSH" = 1 ]; then
    check "ssh-D $SSH_SOCKS_PORT socks4" '^hello' curl -sS -m 5 --socks4 $H:$SSH_SOCKS_PORT $U
    check "ssh-D $SSH_SOCKS_PORT socks4a" '^hello' curl -sS -m 5 --socks4a $H:$SSH_SOCKS_PORT $UH
    check "ssh-D $SSH_SOCKS_PORT socks5" '^hello' curl -sS -m 5 --socks5 $H:$SSH_SOCKS_PORT $U
    check "ssh-D $SSH_SOCKS_PORT socks5-hostname" '^hello' curl -sS -m 5 --socks5-hostname $H:$SSH_SOCKS_PORT $UH
  fi
  echo "HTTP proxies"
  check "tinyproxy $TINYPROXY_PORT GET" '^hello' curl -sS -m 5 -x http://$H:$TINYPROXY_PORT $U
  check "tinyproxy $TINYPROXY_PORT CONNECT" '^hello' curl -sS -m 5 -p -x http://$H:$TINYPROXY_PORT $U
  check "tinyproxy-auth $TINYPROXY_AUTH_PORT CONNECT no creds -> 407" 'response 407' curl -sS -m 5 -p -x http://$H:$TINYPROXY_AUTH_PORT $U
  check "tinyproxy-auth $TINYPROXY_AUTH_PORT CONNECT Basic" '^hello' curl -sS -m 5 -p -x http://$H:$TINYPROXY_AUTH_PORT --proxy-user "$PROXY_USER:$PROXY_PASS" $U
  check "tinyproxy-auth $TINYPROXY_AUTH_PORT wrong creds -> 401 (sic)" 'response 401' curl -sS -m 5 -p -x http://$H:$TINYPROXY_AUTH_PORT --proxy-user "$PROXY_USER:bad" $U
  check "tinyproxy $TINYPROXY_PORT non-allowlisted dst -> 403" 'response 403' curl -sS -m 5 -p -x http://$H:$TINYPROXY_PORT http://127.0.0.2:$HTTP_ORIGIN_PORT/
  if [ "$PEERS_SQUID" = 1 ]; then
    check "squid $SQUID_PORT CONNECT" '^hello' curl -sS -m 5 -p -x http://$H:$SQUID_PORT $U
    check "squid-auth $SQUID_AUTH_PORT CONNECT Basic" '^hello' curl -sS -m 5 -p -x http://$H:$SQUID_AUTH_PORT --proxy-user "$PROXY_USER:$PROXY_PASS" $UH
    check "squid-auth $SQUID_AUTH_PORT wrong creds -> 407" 'response 407' curl -sS -m 5 -p -x http://$H:$SQUID_AUTH_PORT --proxy-user "$PROXY_USER:bad" $U
  fi
  echo "SMTP through proxies (curl smtp://)"
  local M=(curl -sS -m 15 --mail-from alice@example.com --mail-rcpt bob@example.org -T "$P/msg.eml" -w 'curl-ok %{response_code}\n')
  printf 'From: alice@example.com\r\nTo: bob@example.org\r\nSubject: via proxy\r\n\r\nhello through proxy\r\n' > "$P/msg.eml"
  check "smtps $SMTPS_PORT via dante-auth socks5h" 'curl-ok 250' "${M[@]}" --socks5-hostname $H:$DANTE_AUTH_PORT --proxy-user "$PROXY_USER:$PROXY_PASS" --cacert "$CA" --user "$SMTP_USER:$SMTP_PASS" smtps://localhost:$SMTPS_PORT
  check "submission $SMTP_SUBMIT_PORT STARTTLS via tinyproxy-auth CONNECT" 'curl-ok 250' "${M[@]}" -p -x http://$H:$TINYPROXY_AUTH_PORT --proxy-user "$PROXY_USER:$PROXY_PASS" --ssl-reqd --cacert "$CA" --user "$SMTP_USER:$SMTP_PASS" smtp://localhost:$SMTP_SUBMIT_PORT
  [ "$PEERS_SSH" = 1 ] && check "plain $SMTP_PLAIN_PORT via ssh-D socks4a" 'curl-ok 250' "${M[@]}" --socks4a $H:$SSH_SOCKS_PORT smtp://localhost:$SMTP_PLAIN_PORT
  sleep 1
  check "maildir has messages" '[1-9]' bash -c "ls '$P/mail/catchall/new' | wc -l"
  echo "peers verify: $OK ok, $BAD bad"
  [ "$BAD" -eq 0 ]
}

case "${1:-start}" in
  start) cmd_start ;;
  install) cmd_install ;;
  stop) cmd_stop ;;
  restart) cmd_stop; cmd_start ;;
  status) cmd_status ;;
  verify) cmd_verify ;;
  token) shift; cmd_token "${1:-}" ;;
  env) [ -f "$P/peers.env" ] || { log "no $P/peers.env: the peers are not started"; exit 1; }; cat "$P/peers.env" ;;
  *) echo "usage: $0 [start|stop|restart|status|verify|install|token [user]|env]" >&2; exit 2 ;;
esac
