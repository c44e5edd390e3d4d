package e2e

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/peerdesk/peerdesk/coordclient"
	"github.com/peerdesk/peerdesk/coordinator"
	"github.com/peerdesk/peerdesk/coordinator/adminclient"
	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/coordinator/webhooks"
	"github.com/peerdesk/peerdesk/harness"
	"github.com/peerdesk/peerdesk/harness/ollama"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/trust"
	"github.com/peerdesk/peerdesk/wire"
)

const ticketSummary = "The printer shows an orange light; the user switched it off and on; a technician should check the paper tray."

// psa is a PSA's webhook endpoint: it verifies every delivery's signature
// and answers 503 to the first fails deliveries it gets.
type psa struct {
	mu       sync.Mutex
	secret   string
	fails    int
	attempts []string // X-Peerdesk-Delivery of each attempt
	accepted []wire.WebhookPayload
	bad      []error
	srv      *httptest.Server
}

func newPSA(t *testing.T, secret string, fails int) *psa {
	p := &psa{secret: secret, fails: fails}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		p.mu.Lock()
		defer p.mu.Unlock()
		if err := webhooks.Verify(p.secret, r.Header, body, time.Now(), 5*time.Minute); err != nil {
			p.bad = append(p.bad, err)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		p.attempts = append(p.attempts, r.Header.Get(wire.HeaderWebhookDelivery))
		if p.fails > 0 {
			p.fails--
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		var pl wire.WebhookPayload
		if err := json.Unmarshal(body, &pl); err != nil {
			p.bad = append(p.bad, err)
		}
		p.accepted = append(p.accepted, pl)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func screenshotPNG(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for x := range 64 {
		for y := range 48 {
			img.Set(x, y, color.RGBA{R: uint8(4 * x), G: 90, B: uint8(5 * y), A: 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// enrollClient enrolls a machine through the JSON API and returns a client
// with its device credentials.
func enrollClient(t *testing.T, url string, ca *x509.Certificate, token, host string) (*coordclient.Client, wire.EnrollResponse) {
	t.Helper()
	cl := coordclient.New(url, ca)
	resp, err := cl.Enroll(ctx(t), wire.EnrollRequest{Token: token, MachineID: harness.NewMachineID(), Hostname: host, OS: "linux"})
	if err != nil {
		t.Fatal(err)
	}
	return cl.WithDevice(resp.DeviceID, resp.DeviceSecret), resp
}

func fileTicket(ctx context.Context, dev *coordclient.Client, t wire.AgentTicket) (wire.AgentTicketReceipt, error) {
	var rc wire.AgentTicketReceipt
	err := dev.Do(ctx, http.MethodPost, wire.PathAgentTickets, t, &rc)
	return rc, err
}

func ticketID(i int) string { return fmt.Sprintf("%032x", i) }

// openTickets logs user in on tab and opens the Tickets tab, marking the
// page so a reload would show (the mark is gone after one).
func openTickets(t *testing.T, tab context.Context, url, user string) {
	t.Helper()
	harness.Do(t, tab, "open the login form", chromedp.Navigate(url+"/login"))
	login(t, tab, user, harness.Password)
	harness.Do(t, tab, "open the Tickets tab",
		chromedp.Click(`//nav//a[normalize-space()="Tickets"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//h1[normalize-space()="Tickets"]`, chromedp.BySearch),
		chromedp.Evaluate(`window.peerdeskMark = "same page"`, nil))
}

// samePage fails t if tab reloaded or left its page since openTickets.
func samePage(t *testing.T, tab context.Context, what string) {
	t.Helper()
	var mark string
	harness.Do(t, tab, "read the page's mark", chromedp.Evaluate(`window.peerdeskMark || ""`, &mark))
	if mark != "same page" {
		t.Errorf("%s: the Tickets tab was reloaded", what)
	}
}

// TestTicketsLive (T6): an agent files a ticket from a chat, with a
// screenshot, over the JSON API with its device credentials; it appears
// on a technician's open Tickets tab without a reload; the coordinator
// asks the shop's model (a real Ollama server, scripted model) for its
// summary, which appears on another technician's open ticket page; that
// technician resolves it and the first one's tab shows it live; a PSA's
// webhook receiver gets signed deliveries, the first after a retry.
func TestTicketsLive(t *testing.T) {
	harness.Begin(t)
	srv := ollama.Start(t)
	model := srv.Create(t, "helpdesk", ollama.JSON("printer", map[string]any{"summary": ticketSummary}))
	const secret = "the-psa-shared-secret"
	rcv := newPSA(t, secret, 1)
	c := harness.StartCoordinator(t, func(cfg *coordinator.Config) {
		cfg.OllamaURL, cfg.OllamaModel, cfg.WebhookBackoff = srv.URL.String(), model, 200*time.Millisecond
	})
	hook, err := c.Desk().CreateWebhook(desk.Local(), wire.WebhookCreate{URL: rcv.srv.URL + "/peerdesk", Events: wire.WebhookEvents, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	alice, bob := c.AddTechnician(t, "alice"), c.AddTechnician(t, "bob")
	dev, enrolled := enrollClient(t, c.URL(), c.Identity().CA, c.Token(t, 0), "reception-pc")
	devID := enrolled.DeviceID

	b := harness.StartBrowser(t, harness.TrustSPKI(c.SPKIPin(t)))
	aliceTab, bobTab := b.Ctx, b.IsolatedTab(t, "")
	openTickets(t, aliceTab, c.URL(), alice)
	harness.Do(t, aliceTab, "see the empty list", chromedp.WaitVisible(`#no-tickets`, chromedp.ByQuery))

	shot := screenshotPNG(t)
	at := wire.AgentTicket{ID: ticketID(1), Title: "Printer does nothing", Priority: wire.PriorityHigh, User: `RECEPTION\carol`, Created: time.Now(),
		Chat: []wire.ChatLine{
			{Role: "user", Text: "my printer does nothing, the light is orange", Time: time.Now()},
			{Role: "assistant", Text: "Please switch it off and on again.", Time: time.Now()},
			{Role: "user", Text: "still orange", Time: time.Now()},
		},
		Attachments: []wire.Attachment{{Name: "screen.png", Type: "image/png", Data: shot}}}
	rc, err := fileTicket(ctx(t), dev, at)
	if err != nil || rc.Duplicate {
		t.Fatalf("filing: %+v, %v", rc, err)
	}
	again, err := fileTicket(ctx(t), dev, at) // a queued ticket sent again after a lost answer
	if err != nil || !again.Duplicate || again.Ticket != rc.Ticket {
		t.Fatalf("filing again: %+v, %v", again, err)
	}
	row := `//tr[@id="ticket-` + rc.Ticket + `"]`
	harness.Do(t, aliceTab, "see the agent's ticket appear", chromedp.WaitVisible(row, chromedp.BySearch))
	samePage(t, aliceTab, "a filed ticket")
	var rows int
	harness.Do(t, aliceTab, "count the rows", chromedp.Evaluate(`document.querySelectorAll('#tickets tbody tr').length`, &rows))
	if rows != 1 {
		t.Errorf("%d rows after one ticket filed twice", rows)
	}

	harness.Do(t, bobTab, "open the login form", chromedp.Navigate(c.URL()+"/login"))
	login(t, bobTab, bob, harness.Password)
	var summary string
	var imgWidth int
	harness.Do(t, bobTab, "open the ticket and see its summary",
		chromedp.Navigate(c.URL()+"/tickets/"+rc.Ticket),
		chromedp.WaitVisible(`#ticket-title`, chromedp.ByQuery),
		chromedp.WaitVisible(`#summary`, chromedp.ByQuery),
		chromedp.Text(`#summary`, &summary, chromedp.ByQuery),
		chromedp.Poll(`(() => { const i = document.querySelector('img.screenshot'); return i && i.complete && i.naturalWidth > 0 ? i.naturalWidth : 0 })()`, &imgWidth),
	)
	if summary != ticketSummary || imgWidth != 64 {
		t.Errorf("summary %q, screenshot %d px wide", summary, imgWidth)
	}
	var href string
	var ok bool
	harness.Do(t, bobTab, "find the machine's link and Open a support session",
		chromedp.AttributeValue(`#open-session`, "href", &href, &ok, chromedp.ByQuery))
	if !strings.Contains(href, "/support/desk/connect?device="+devID) {
		t.Errorf("Open a support session leads to %q", href)
	}
	harness.Do(t, bobTab, "resolve the ticket and assign it to himself",
		chromedp.SetValue(`#update select[name="status"]`, wire.StatusResolved, chromedp.ByQuery),
		chromedp.SetValue(`#update input[name="assignee"]`, bob, chromedp.ByQuery),
		chromedp.Click(`#update button`, chromedp.ByQuery),
		chromedp.WaitVisible(`#notice`, chromedp.ByQuery),
		chromedp.WaitVisible(`//dd[@id="ticket-status" and normalize-space()="resolved"]`, chromedp.BySearch))
	harness.Do(t, aliceTab, "see bob's change live",
		chromedp.WaitVisible(row+`/td[@class="status" and normalize-space()="resolved"]`, chromedp.BySearch),
		chromedp.WaitVisible(row+`/td[@class="assignee" and normalize-space()="bob"]`, chromedp.BySearch),
		chromedp.WaitVisible(row+`//span[contains(@class, "summary")]`, chromedp.BySearch))
	samePage(t, aliceTab, "an update by another technician")
	harness.Shot(t, aliceTab, "tickets-live")

	// The PSA: every event, signed; the first attempt refused, retried.
	wait.For(t, "the PSA to accept created, summarised and updated", func() bool {
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		var events []string
		for _, p := range rcv.accepted {
			events = append(events, p.Event)
		}
		return slices.Contains(events, wire.EventTicketCreated) && slices.Contains(events, wire.EventTicketSummary) && slices.Contains(events, wire.EventTicketUpdated)
	})
	rcv.mu.Lock()
	if len(rcv.bad) > 0 {
		t.Errorf("deliveries that failed the signature check: %v", rcv.bad)
	}
	// Deliveries are at least once and not ordered: a refused one is
	// retried with its id while later ones go on (each carries the whole
	// ticket).
	if len(rcv.attempts) < 2 || !slices.Contains(rcv.attempts[1:], rcv.attempts[0]) {
		t.Errorf("attempts %v: the refused first delivery was not retried with its id", rcv.attempts)
	}
	var created wire.WebhookPayload
	for _, p := range rcv.accepted {
		if p.Event == wire.EventTicketCreated {
			created = p
		}
	}
	rcv.mu.Unlock()
	if created.Event != wire.EventTicketCreated || created.Ticket.Number != rc.Ticket || created.Ticket.Device != devID || created.Ticket.Chat != nil {
		t.Errorf("the first delivery: %+v", created)
	}
	log, err := c.Desk().WebhookDeliveries(desk.Local(), hook.ID)
	if err != nil {
		t.Fatal(err)
	}
	var outcomes []string
	for _, l := range log {
		outcomes = append(outcomes, l.Outcome)
	}
	if !slices.Contains(outcomes, "retry") || !slices.Contains(outcomes, "delivered") {
		t.Errorf("delivery log outcomes %v", outcomes)
	}
	// The audit trail has every step.
	for _, a := range []string{"ticket.file", "ticket.summary", "ticket.update", "webhook.create"} {
		c.WaitAudit(t, a, "ok", nil)
	}
}

// TestTicketUpdateLatency measures a ticket update by one technician (a
// PATCH over the JSON API with his session) until another technician's
// open Tickets tab shows it, in headless Chromium: p50/p95 of
// $PEERDESK_TICKETS_BENCH rounds (skipped when unset), over 10,000
// tickets.
//
//	PEERDESK_TICKETS_BENCH=50 go test -run TestTicketUpdateLatency -v ./e2e
func TestTicketUpdateLatency(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("PEERDESK_TICKETS_BENCH"))
	if n <= 0 {
		t.Skip("set PEERDESK_TICKETS_BENCH to the number of rounds")
	}
	harness.Begin(t)
	c := harness.StartCoordinator(t)
	alice, bob := c.AddTechnician(t, "alice"), c.AddTechnician(t, "bob")
	dev, _ := enrollClient(t, c.URL(), c.Identity().CA, c.Token(t, 0), "pc")
	const seed = 10_000
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < seed; i += 4 {
				if _, err := fileTicket(context.Background(), dev, wire.AgentTicket{ID: ticketID(i + 1), Title: fmt.Sprintf("Ticket %d", i), Priority: wire.PriorityNormal}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	cl := coordclient.New(c.URL(), c.Identity().CA)
	lr, err := cl.Login(ctx(t), bob, harness.Password)
	if err != nil {
		t.Fatal(err)
	}
	bobAPI := cl.WithSession(lr.Session)
	tab := harness.StartBrowser(t, harness.TrustSPKI(c.SPKIPin(t))).Ctx
	openTickets(t, tab, c.URL(), alice)
	last := fmt.Sprintf("T-%d", 1000+seed)
	row := `//tr[@id="ticket-` + last + `"]`
	harness.Do(t, tab, "see the newest ticket", chromedp.WaitVisible(row, chromedp.BySearch))
	var d []time.Duration
	for i := range n {
		start := time.Now()
		if err := bobAPI.Do(ctx(t), http.MethodPatch, wire.PathTickets+"/"+last, wire.TicketUpdate{Title: fmt.Sprintf("round %d", i)}, nil); err != nil {
			t.Fatal(err)
		}
		harness.Do(t, tab, "see round "+strconv.Itoa(i),
			chromedp.WaitVisible(fmt.Sprintf(`%s/td[2][normalize-space()="round %d"]`, row, i), chromedp.BySearch))
		d = append(d, time.Since(start))
	}
	samePage(t, tab, "the rounds")
	slices.Sort(d)
	t.Logf("ticket update → visible on another technician's open Tickets tab (10,000 tickets, %d rounds): p50 %v, p95 %v, max %v",
		n, d[len(d)/2].Round(time.Millisecond), d[len(d)*95/100].Round(time.Millisecond), d[len(d)-1].Round(time.Millisecond))
}

// TestTicketsSurviveCrash: tickets and comments the coordinator
// acknowledged survive a SIGKILL that lands right after the
// acknowledgements, with more in flight; after the restart each
// acknowledged ticket is there once, and filing it again is a duplicate.
func TestTicketsSurviveCrash(t *testing.T) {
	harness.Begin(t)
	dir := t.TempDir()
	proc, url, pin := startCoordinatorProcess(t, dir)
	admin := adminclient.New(dir + "/" + coordinator.SocketName)
	ca, err := trust.FetchCA(ctx(t), url, pin)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := admin.CreateToken(ctx(t), 0, "crash")
	if err != nil {
		t.Fatal(err)
	}
	dev, enrolled := enrollClient(t, url, ca, tok.Token, "pc")

	var (
		mu     sync.Mutex
		filed  = map[string]string{} // id → number, acknowledged
		lost   int
		lostE  []error
		stop   = make(chan struct{})
		once   sync.Once
		wg     sync.WaitGroup
		shotPN = screenshotPNG(t)
	)
	var killing atomic.Bool // requests failing from here on met the kill
	kill := func() {
		once.Do(func() {
			killing.Store(true)
			proc.Kill()
			close(stop)
			wg.Wait()
		})
	}
	t.Cleanup(kill)
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := ticketID(1 + w + 4*i)
				c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				rc, err := fileTicket(c, dev, wire.AgentTicket{ID: id, Title: "Crash " + id[24:], Priority: wire.PriorityLow,
					Chat:        []wire.ChatLine{{Role: "user", Text: "help " + id, Time: time.Now()}},
					Attachments: []wire.Attachment{{Name: "s.png", Type: "image/png", Data: shotPN}}})
				cancel()
				mu.Lock()
				if err == nil {
					filed[id] = rc.Ticket
				} else if coordclient.Code(err) != "" {
					t.Errorf("refused: %v", err)
				} else {
					if !killing.Load() {
						lost++
						lostE = append(lostE, err)
					}
				}
				mu.Unlock()
			}
		})
	}
	if err := wait.Until(harness.Timeout, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(filed) < 40 {
			return fmt.Errorf("%d acknowledged, %d unanswered", len(filed), lost)
		}
		return nil
	}); err != nil {
		t.Fatalf("waiting for 40 acknowledged tickets: %v\n%s", err, proc.Stderr())
	}
	kill()
	t.Logf("acknowledged before the kill: %d tickets; %d requests unanswered (%v)", len(filed), lost, errors.Join(lostE...))

	_, url, pin = startCoordinatorProcess(t, dir)
	if ca, err = trust.FetchCA(ctx(t), url, pin); err != nil {
		t.Fatal(err)
	}
	dev = coordclient.New(url, ca).WithDevice(enrolled.DeviceID, enrolled.DeviceSecret)
	if err := admin.AddUser(ctx(t), "alice", harness.Password, "technician"); err != nil {
		t.Fatal(err)
	}
	cl := coordclient.New(url, ca)
	lr, err := cl.Login(ctx(t), "alice", harness.Password)
	if err != nil {
		t.Fatal(err)
	}
	api := cl.WithSession(lr.Session)
	var list wire.TicketList
	if err := api.Do(ctx(t), http.MethodGet, wire.PathTickets+"?limit=500", nil, &list); err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, tk := range list.Tickets {
		if have[tk.Number] {
			t.Errorf("%s listed twice", tk.Number)
		}
		have[tk.Number] = true
	}
	for id, number := range filed {
		if !have[number] {
			t.Errorf("acknowledged ticket %s (%s) lost", number, id)
			continue
		}
		var tk wire.Ticket
		if err := api.Do(ctx(t), http.MethodGet, wire.PathTickets+"/"+number, nil, &tk); err != nil {
			t.Fatal(err)
		}
		if len(tk.Chat) != 1 || len(tk.Attachments) != 1 || tk.Chat[0].Text != "help "+id {
			t.Errorf("%s after the crash: %+v", number, tk)
		}
	}
	// Every acknowledged ID files nothing new.
	for id, number := range filed {
		rc, err := fileTicket(ctx(t), dev, wire.AgentTicket{ID: id, Title: "again", Priority: wire.PriorityLow})
		if err != nil || !rc.Duplicate || rc.Ticket != number {
			t.Errorf("%s filed again after the crash: %+v, %v", id, rc, err)
		}
		break
	}
	if list.Total < len(filed) {
		t.Errorf("%d tickets after the crash, %d acknowledged", list.Total, len(filed))
	}
}
