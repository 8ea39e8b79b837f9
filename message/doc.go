// Package message composes email messages and reads envelopes from them.
//
// A [Message] is a plain struct: From, To, Cc, Bcc, Reply-To, a Subject,
// a text and/or HTML body, attachments from files or readers, and inline
// parts that the HTML shows by their Content-ID. [Message.WriteTo] writes
// it as MIME, streaming each attachment from its source in base64 lines:
// writing holds about 100 KiB of buffers however large the attachments are
// (BenchmarkWriteTo1GiB measures it with a 1 GiB attachment). Every header
// is UTF-8 safe: text as
// RFC 2047 encoded words, file names as RFC 2231 parameters, long fields
// folded. Date and Message-ID are made when missing.
//
// [ReadEnvelope] and [Header] read the envelope of a message that is
// already written, by sendmail -t's rules (To, Cc and Bcc, or their Resent-
// forms when the message was resent), and give the message to send without
// its Bcc fields, reading the body only as it is sent.
//
// Every address, whether from a header, an envelope or a Message, is read
// by [ParseAddress] and checked by [CheckAddress]: one set of rules, which
// refuse CR, LF and NUL.
//
// The package is built on the standard library's mime, mime/multipart,
// mime/quotedprintable and net/mail: they are maintained with Go itself,
// parse what they write, and stream (multipart.Writer writes each part
// straight through), so the package adds no dependency. What they lack is
// small and lives here: RFC 2231 parameters split into pieces that fold,
// folding of long header fields, and the choice of encoding per part.
// emersion/go-message would have served as well, at the price of a
// dependency for what the standard library already does.
//
// To send a Message, smtpkit.SendMessage connects, logs in, sends and
// quits in one call; Message.Reader gives it to Client.Send on a
// connection of your own.
package message
