package outbox

import (
	"errors"
	"strings"

	"github.com/smtpkit/smtpkit"
)

// verdict is what one attempt says of one recipient.
type verdict struct {
	status Status // Delivered, Failed, or Pending to try again
	reply  smtpkit.Reply
	reason string
}

// judge reads the outcome of one attempt for the n recipients it was sent
// to, from what the library exports: the per-recipient replies, the final
// reply, and the *smtpkit.Error's phase and code.
//
//   - Accepted at RCPT and at the end of the data: delivered.
//   - A 5xx about the recipient, or about the whole message (MAIL or the
//     data): failed for good. So are envelopes the server can never take
//     (too large, an extension it lacks, an invalid argument).
//   - Anything else is transient: 4xx and 421 replies, failures to
//     connect, greet, secure or log in (about the session, not the
//     message), broken connections and time limits.
//
// inDoubt reports an attempt whose end of data (the final dot, or BDAT
// LAST) left the client and whose reply never came: the connection broke
// or a time limit passed (smtpkit.ErrUnconfirmed). The server may have
// taken the message (RFC 1047), and the next attempt may deliver a second
// copy. A message read to its end whose final dot was still in the
// client's buffer when the connection broke is not in doubt.
func judge(n int, res *smtpkit.Result, err error) (out []verdict, inDoubt bool) {
	out = make([]verdict, n)
	rcpt := func(i int) smtpkit.Reply {
		if res != nil && i < len(res.Recipients) {
			return res.Recipients[i].Reply
		}
		return smtpkit.Reply{}
	}
	if err == nil {
		for i := range out {
			r := rcpt(i)
			switch r.Code / 100 {
			case 2:
				out[i] = verdict{status: Delivered, reply: res.Reply}
			case 5:
				out[i] = verdict{status: Failed, reply: r}
			default:
				out[i] = verdict{status: Pending, reply: r}
			}
		}
		return out, false
	}
	reason := err.Error()
	all := func(v verdict) []verdict {
		for i := range out {
			out[i] = v
		}
		return out
	}
	var se *smtpkit.Error
	if !errors.As(err, &se) {
		return all(verdict{status: Pending, reason: reason}), false
	}
	if errors.Is(err, smtpkit.ErrMessageTooLarge) || errors.Is(err, smtpkit.ErrNotSupported) || errors.Is(err, smtpkit.ErrInvalidArgument) {
		return all(verdict{status: Failed, reason: reason}), false
	}
	reply := smtpkit.Reply{Code: se.Code, Enhanced: se.Enhanced}
	if se.Message != "" {
		reply.Lines = strings.Split(se.Message, "\n")
	}
	switch se.Phase {
	case smtpkit.PhaseMail:
		// 530 is "authentication required" (RFC 4954): the session's
		// settings are at fault, not the message, which may go once they
		// are fixed.
		if se.Code/100 == 5 && se.Code != 530 {
			return all(verdict{status: Failed, reply: reply, reason: reason}), false
		}
		return all(verdict{status: Pending, reply: reply, reason: reason}), false
	case smtpkit.PhaseRcpt, smtpkit.PhaseData, smtpkit.PhaseReset:
		open := false // a recipient the data may have reached
		for i := range out {
			r := rcpt(i)
			switch {
			case r.Code/100 == 5:
				out[i] = verdict{status: Failed, reply: r}
			case r.Code/100 == 4:
				out[i] = verdict{status: Pending, reply: r}
			case se.Phase == smtpkit.PhaseData && se.Code/100 == 5:
				out[i] = verdict{status: Failed, reply: reply, reason: reason}
			default:
				open = true
				out[i] = verdict{status: Pending, reply: reply, reason: reason}
				if se.Code == 0 {
					out[i].reply = r // the connection ended: the last word is RCPT's
				}
			}
		}
		inDoubt = open && errors.Is(err, smtpkit.ErrUnconfirmed)
		return out, inDoubt
	}
	return all(verdict{status: Pending, reason: reason}), false
}
