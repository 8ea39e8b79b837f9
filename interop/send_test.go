package interop_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit"
)

// waitForMail waits until a message holding marker lands in the peers'
// Maildir and returns it.
func (p *peers) waitForMail(t *testing.T, marker string) string {
	t.Helper()
	dir := filepath.Join(p.get(t, "PEERS_MAILDIR"), "new")
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		files, _ := os.ReadDir(dir)
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(dir, f.Name()))
			if err == nil && strings.Contains(string(b), marker) {
				return string(b)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no message with %q arrived in %s", marker, dir)
	return ""
}

// TestSendArrives sends real mail through Postfix in each mode, logged in
// where the port needs it, and finds it in the mailbox.
func TestSendArrives(t *testing.T) {
	p := needPeers(t)
	tests := []struct {
		key  string
		opts *smtpkit.Options
		tls  bool
	}{
		{"PEERS_SMTP_PLAIN", p.options(t, smtpkit.SecurityNone), false},
		{"PEERS_SMTP_SUBMISSION", p.authOptions(t, smtpkit.SecurityStartTLS), true},
		{"PEERS_SMTPS", p.authOptions(t, smtpkit.SecurityImplicitTLS), true},
		{"PEERS_SMTP_AUTH_CLEARTEXT", p.authOptions(t, smtpkit.SecurityNone), false},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			c, err := smtpkit.Dial(testContext(t), p.addr(t, tt.key), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Quit(testContext(t))
			var markers []string
			for i := range 3 {
				marker := fmt.Sprintf("smtpkit-%s-%d-%d", tt.key, i, time.Now().UnixNano())
				markers = append(markers, marker)
				msg := "From: alice@example.com\nTo: bob@example.org\nSubject: " + marker + "\n\n.a dot line\nbody of " + marker + "\n"
				res, err := c.Send(testContext(t), &smtpkit.Envelope{From: "alice@example.com", To: []string{"bob@example.org"}}, strings.NewReader(msg))
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				if res.Reply.Code != 250 || !strings.Contains(res.Reply.Text(), "queued") {
					t.Errorf("final reply %v", res.Reply)
				}
			}
			for _, m := range markers {
				got := p.waitForMail(t, m)
				if !strings.Contains(got, "\n.a dot line\n") && !strings.Contains(got, "\r\n.a dot line\r\n") {
					t.Errorf("the dot line did not survive:\n%s", got)
				}
				if tt.tls && !strings.Contains(got, "TLS") {
					t.Errorf("the Received header does not record TLS:\n%s", got)
				}
			}
		})
	}
}

// TestSendBatchArrives pipelines a batch through Postfix, with BDAT
// (PIPELINING and CHUNKING on 2525) and with DATA (PIPELINING only on
// 2529), a refused recipient in the middle; every other message arrives.
func TestSendBatchArrives(t *testing.T) {
	p := needPeers(t)
	for _, tt := range []struct {
		key      string
		chunking bool
	}{
		{keyPlain, true},
		{keyNoChunking, false},
	} {
		t.Run(tt.key, func(t *testing.T) {
			c, err := smtpkit.Dial(testContext(t), p.addr(t, tt.key), p.options(t, smtpkit.SecurityNone))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Quit(testContext(t))
			if !c.Capabilities().Pipelining() || c.Capabilities().Chunking() != tt.chunking {
				t.Fatalf("%s: want PIPELINING, CHUNKING %v: %q", tt.key, tt.chunking, c.Capabilities().Lines())
			}
			stamp := time.Now().UnixNano()
			var mails []smtpkit.Mail
			for i := range 20 {
				to := "bob@example.org"
				if i == 7 {
					to = "refused@peers.test" // refused by the peers' Postfix
				}
				mails = append(mails, smtpkit.Mail{
					Envelope: smtpkit.Envelope{From: "alice@example.com", To: []string{to}},
					Message:  strings.NewReader(fmt.Sprintf("Subject: batch-%d-%d\r\n\r\nhello\r\n", stamp, i)),
				})
			}
			for i, r := range c.SendBatch(testContext(t), mails) {
				if i == 7 {
					if !errors.Is(r.Err, smtpkit.ErrAllRecipientsRefused) {
						t.Errorf("message 7, to a refused address: %v, want ErrAllRecipientsRefused", r.Err)
					}
					continue
				}
				if r.Err != nil {
					t.Fatalf("message %d: %v", i, r.Err)
				}
			}
			for i := range 20 {
				if i != 7 {
					p.waitForMail(t, fmt.Sprintf("batch-%d-%d", stamp, i))
				}
			}
		})
	}
}
