package interop_test

// AUTH: tests to come here once the library can authenticate.
//
// What the peers give them (keys of peers.env; user PEERS_SMTP_USER,
// password PEERS_SMTP_PASS):
//   - PEERS_SMTP_AUTH_CLEARTEXT (2526, Postfix with Cyrus SASL): AUTH over
//     plaintext with PLAIN, LOGIN, CRAM-MD5, DIGEST-MD5, SCRAM-SHA-1 and
//     SCRAM-SHA-256. A wrong password gets 535 5.7.8 at once.
//   - PEERS_SMTP_DOVECOT (2527, Postfix with Dovecot SASL): the same, plus
//     XOAUTH2 and OAUTHBEARER. Tokens are HS256 JWTs (claims sub, iat, nbf,
//     exp; sub is the user) signed with the key whose base64 is in the file
//     PEERS_OAUTH_HS256_KEY_B64_FILE; `interop/peers.sh token testuser`
//     prints one valid for an hour. A bad token gets 334 with a base64 JSON
//     {"status":"401",...} challenge, then 535 after the client's empty
//     reply (RFC 7628). Each failure takes about half a second in Dovecot.
//   - PEERS_SMTP_SUBMISSION (2587): AUTH is announced only after STARTTLS
//     (TestSubmissionAnnouncesAUTHOnlyAfterSTARTTLS checks that today).
//   - PEERS_SMTPS (2465): AUTH over implicit TLS, the same mechanisms as 2526.
//   - SCRAM over TLS 1.3 with channel binding is untried on the server side:
//     the command-line client used to check the peers had to turn channel
//     binding off.
