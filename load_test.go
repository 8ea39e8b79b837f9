package smtpkit_test

import (
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/smtpkit/smtpkit"
	"github.com/smtpkit/smtpkit/smtptest"
)

// flakyBackend drops connections and answers 4xx at random, always before
// a message is delivered, and records what it delivers.
type flakyBackend struct {
	mu        sync.Mutex
	rnd       *rand.Rand
	delivered map[string]int // message id -> times delivered
}

func (b *flakyBackend) roll() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rnd.Float64()
}

func (b *flakyBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &flakySession{b: b, conn: c}, nil
}

type flakySession struct {
	b    *flakyBackend
	conn *smtp.Conn
}

var errTryLater = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}

func (s *flakySession) Mail(string, *smtp.MailOptions) error {
	if s.b.roll() < 0.04 {
		s.conn.Close() // the server goes away
	}
	return nil
}

func (s *flakySession) Rcpt(string, *smtp.RcptOptions) error {
	if s.b.roll() < 0.08 {
		return errTryLater
	}
	return nil
}

func (s *flakySession) Data(r io.Reader) error {
	body, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	switch x := s.b.roll(); {
	case x < 0.04:
		s.conn.Close()
		return errTryLater
	case x < 0.08:
		return errTryLater
	}
	id := strings.TrimSpace(string(body))
	s.b.mu.Lock()
	s.b.delivered[id]++
	s.b.mu.Unlock()
	return nil
}

func (s *flakySession) Reset()        {}
func (s *flakySession) Logout() error { return nil }

// TestLoadThroughAFlakyServer: many goroutines send through a pool to a
// server that drops connections and answers 4xx at random. Every message
// ends accepted or reported failed: an accepted one was delivered exactly
// once, a failed one not at all.
func TestLoadThroughAFlakyServer(t *testing.T) {
	for _, bulk := range []bool{false, true} {
		t.Run(fmt.Sprint("SendAll=", bulk), func(t *testing.T) {
			backend := &flakyBackend{rnd: rand.New(rand.NewPCG(1, 2)), delivered: map[string]int{}}
			srv := smtptest.NewUnstartedServer(smtptest.Plain)
			srv.Config.Backend = backend
			srv.Start()
			defer srv.Close()
			pool := &smtpkit.Pool{Addr: srv.Addr, Dialer: srv.Dialer(), MaxConns: 4}
			defer pool.Close(testContext(t))

			const n = 400
			mails := make([]smtpkit.Mail, n)
			for i := range mails {
				mails[i] = smtpkit.Mail{
					Envelope: smtpkit.Envelope{From: "a@x.test", To: []string{"b@y.test"}},
					Message:  strings.NewReader(fmt.Sprintf("message-%d\r\n", i)),
				}
			}
			results := make([]smtpkit.BatchResult, n)
			if bulk {
				var mu sync.Mutex
				results = pool.SendAll(testContext(t), mails, func(i int, r smtpkit.BatchResult) {
					mu.Lock()
					defer mu.Unlock()
					if results[i].Result != nil || results[i].Err != nil {
						t.Errorf("message %d reported twice", i)
					}
					results[i] = r
				})
			} else {
				var wg sync.WaitGroup
				for g := range 16 {
					wg.Go(func() {
						for i := g; i < n; i += 16 {
							r, err := pool.Send(testContext(t), &mails[i].Envelope, mails[i].Message)
							results[i] = smtpkit.BatchResult{Result: r, Err: err}
						}
					})
				}
				wg.Wait()
			}

			backend.mu.Lock()
			defer backend.mu.Unlock()
			accepted, failed := 0, 0
			for i, r := range results {
				id := fmt.Sprintf("message-%d", i)
				times := backend.delivered[id]
				switch {
				case r.Err == nil && (r.Result == nil || r.Result.Reply.Code != 250):
					t.Errorf("%s: no error but no 250 either: %+v", id, r.Result)
				case r.Err == nil && times != 1:
					t.Errorf("%s: reported accepted, delivered %d times", id, times)
				case r.Err != nil && times != 0:
					t.Errorf("%s: reported failed (%v), delivered %d times", id, r.Err, times)
				}
				if r.Err == nil {
					accepted++
				} else {
					failed++
				}
			}
			if accepted+failed != n || accepted == 0 || failed == 0 {
				t.Errorf("%d accepted, %d failed of %d: the faults did not happen, or nothing got through", accepted, failed, n)
			}
			kinds := map[string]int{}
			for _, r := range results {
				if r.Err != nil {
					k := r.Err.Error()
					if i := strings.Index(k, ": "); i > 0 {
						k = k[i+2:]
					}
					if len(k) > 60 {
						k = k[:60]
					}
					kinds[k]++
				}
			}
			t.Logf("%d accepted, %d failed, over %d connections; failures: %v", accepted, failed, srv.Connections(), kinds)
		})
	}
}
