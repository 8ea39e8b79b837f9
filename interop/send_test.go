package interop_test

// Sending mail: tests to come here once the library can send.
//
// What the peers give them (keys of peers.env):
//   - PEERS_SMTP_PLAIN (2525): MAIL, RCPT and DATA, and BDAT (CHUNKING), with
//     PIPELINING; Postfix answers "250 2.0.0 Ok: queued as ..." and delivers
//     every message, whatever the recipient, as one file in the Maildir
//     PEERS_MAILDIR/new. Tests run in parallel and share that Maildir: find a
//     message by a unique Message-ID or Subject, and allow a moment for the
//     delivery after the 250.
//   - The Received header of a delivered message records the TLS version
//     and, after AUTH, "Authenticated sender: testuser@peers.test".
//   - SIZE is 10485760: a larger message gets 552 5.3.4.
//   - PEERS_SMTP_SUBMISSION (2587): MAIL before STARTTLS gets 530 5.7.0;
//     after STARTTLS but without AUTH, RCPT gets 554 5.7.1.
//   - PEERS_SMTPS (2465): RCPT without AUTH is refused the same way.
