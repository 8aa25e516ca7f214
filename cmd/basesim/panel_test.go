package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"basestation/internal/testpeer"
)

// browser is a headless Debian chromium on the panel, driven by chromedp.
type browser struct {
	t     *testing.T
	ctx   context.Context
	shots string // where screenshots go

	mu     sync.Mutex
	errors []string // uncaught exceptions of the page
}

// startBrowser starts chromium on url. Screenshots go to
// $PANEL_SCREENSHOT_DIR (docs/img for the docs' pictures), else to a
// temporary directory.
func startBrowser(t *testing.T, url string, within time.Duration) *browser {
	t.Helper()
	chrome := testpeer.Require(t, "chromium")[0]
	b := &browser{t: t, shots: os.Getenv("PANEL_SCREENSHOT_DIR")}
	if b.shots == "" {
		b.shots = t.TempDir()
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.WindowSize(1280, 1000),
		chromedp.DisableGPU, chromedp.Flag("disable-dev-shm-usage", true))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // chromium refuses its sandbox to root
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, tcancel := context.WithTimeout(ctx, within)
	t.Cleanup(func() { tcancel(); cancel(); acancel() })
	b.ctx = ctx
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok {
			msg := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
			b.mu.Lock()
			b.errors = append(b.errors, msg)
			b.mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	b.do("open the panel", chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="true"]`)))
	return b
}

func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	b.checkErrors()
}

func (b *browser) checkErrors() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errors) > 0 {
		b.t.Fatalf("the page threw: %s", strings.Join(b.errors, "; "))
	}
}

func (b *browser) click(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible)
}

func (b *browser) set(sel, v string) chromedp.Action[chromedp.Void] {
	return chromedp.SetValue(chromedp.CSS(sel), v)
}

// wait waits until the JavaScript expression is true, at most d.
func (b *browser) wait(what, expr string, d time.Duration) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(d), chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		b.dump()
		b.t.Fatalf("waiting for %s (%s): %v", what, expr, err)
	}
	b.checkErrors()
}

// dump logs what the page shows after a failure, and saves it.
func (b *browser) dump() {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`['#toast', '#phone-state', '#rec-info', '#timeline'].map(s => s + ': ' + document.querySelector(s).innerText).join('\n')`))
	b.t.Logf("the page at the failure (%v):\n%s", err, s)
	if img, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100)); err == nil {
		p := filepath.Join(b.shots, "failure.png")
		if os.WriteFile(p, img, 0o644) == nil {
			b.t.Logf("screenshot %s", p)
		}
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// shot saves a PNG of the element sel ("" the whole page).
func (b *browser) shot(name, sel string) {
	b.t.Helper()
	var img []byte
	var err error
	if sel == "" {
		img, err = chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	} else {
		img, err = chromedp.Run(b.ctx, chromedp.Screenshot(chromedp.CSS(sel)))
	}
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(b.shots, name)
	if err := os.WriteFile(p, img, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s (%d bytes)", p, len(img))
}

// The web panel in Debian's chromium, clicked through as a person would:
// a call to the analog phone (caller ID on the drawn display, the ring
// cadence and the caller-ID burst in the recording's plot, Bob's tone in the
// live spectrum), a Linx paired with the PIN, and the message-waiting lamp.
func TestPanelInChromium(t *testing.T) {
	e := startSim(t)
	web, err := e.w.withPanel(e.w.handler())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(web)
	t.Cleanup(srv.Close)
	start := time.Now()
	b := startBrowser(t, srv.URL+"/", 50*time.Second) // "/" sends the browser to /panel/
	b.wait("101 registered, shown on the base", `document.querySelector('#base-status').textContent.includes('SIP 101registered')`, 10*time.Second)

	// Bob calls 101 from the callers' card while the panel records the line.
	b.do("start recording", b.set("#rec-name", "call.wav"), b.click("#rec-start"))
	b.wait("recording", `document.querySelector('#phone').textContent.includes('call.wav')`, 3*time.Second)
	b.do("Bob calls 101", b.set("#sp-102 .to", "101"), b.click(`#sp-102 [data-action="call"]`))
	b.wait("the drawn phone rings", `document.querySelector('#phone').classList.contains('ringing')`, 10*time.Second)
	b.wait("caller ID on the drawn display", `document.querySelector('#phone-display .cid-name').textContent === 'Bob Softphone'`, 10*time.Second)
	if n := b.text("#phone-display .cid-number"); n != "102" {
		t.Errorf("the display shows number %q, want 102", n)
	}
	b.wait("the second ring", `Number(document.querySelector('#phone').dataset.rings) >= 2`, 10*time.Second)
	b.shot("panel-call.png", "#phone-card")
	b.do("stop and plot", b.click("#rec-stop"))
	b.wait("the recording plotted", `document.querySelector('#rec-info').dataset.rings !== undefined`, 5*time.Second)
	info := b.text("#rec-info")
	var rings, fsk int
	var first float64
	attrs, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`['rings', 'fsk', 'firstRing'].map(k => document.querySelector('#rec-info').dataset[k]).join(' ')`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Sscan(attrs, &rings, &fsk, &first); err != nil {
		t.Fatalf("plot data attributes: %v (%s)", err, info)
	}
	if rings < 2 || fsk < 1 {
		b.dump()
		t.Errorf("the plot shows %d ring bursts and %d FSK bursts, want ≥ 2 and ≥ 1: %s", rings, fsk, info)
	}
	if first < 1.8 || first > 2.2 { // US cadence: 2 s on, 4 s off
		b.dump()
		t.Errorf("the first ring burst is %.2f s long, want 2: %s", first, info)
	}
	b.shot("panel-recording.png", "#rec-card")

	// Lift the drawn handset: Bob is connected, his 1000 Hz in the spectrum.
	b.do("answer", b.click("#handset"))
	b.wait("Bob connected", `document.querySelector('#sp-102 .state').textContent === 'connected'`, 5*time.Second)
	b.wait("Bob's 1000 Hz in the live spectrum", `Math.abs(Number(document.querySelector('#spectrum-peak').dataset.hz) - 1000) < 40`, 5*time.Second)
	b.shot("panel-line.png", "#line-card")
	b.do("hang up", b.click("#handset"))
	b.wait("Bob idle", `document.querySelector('#sp-102 .state').textContent === 'idle'`, 5*time.Second)

	// A Linx: added, registration opened by holding the base's button, paired with the PIN.
	b.do("add a Linx", b.set("#add-kind", "linx"), b.click("#add-device"))
	b.wait("the Linx's card", `!!document.querySelector('#dev-linx1')`, 3*time.Second)
	b.do("hold the button", b.click("#btn-long"))
	b.wait("the registration LED blinks", `(document.querySelector('#led-registration')?.dataset.state || '').startsWith('blink')`, 10*time.Second)
	b.do("pair with the PIN", b.set("#dev-linx1 .pin", "0000"), b.click(`#dev-linx1 [data-action="pair"]`))
	b.wait("the Linx paired", `document.querySelector('#dev-linx1 .reg').textContent.startsWith('paired, handset')`, 10*time.Second)
	b.shot("panel-dect.png", "#devices-card")

	// Two new voicemails for 101: the lamp lights.
	b.do("voicemail", b.set("#vm-ext", "101"), b.set("#vm-new", "2"), b.click("#vm-set"))
	b.wait("the MWI lamp lit", `document.querySelector('#phone-lamp').classList.contains('on')`, 10*time.Second)
	if s := b.text("#phone-display .mwi-text"); s != "MESSAGE WAITING" {
		t.Errorf("the display shows %q, want MESSAGE WAITING", s)
	}
	tl := b.text("#timeline")
	// Each fact in the panel's words (derived from polled state) or in the
	// event stream's (when the control API has one).
	for _, want := range [][]string{
		{"ring on", "ring_on port1"},
		{"caller ID MDMF: Bob Softphone 102", "caller_id port1 (phone): call_waiting=false format=MDMF name=Bob Softphone number=102"},
		{"linx1: paired", "paired linx1"},
		{"message-waiting lamp on", "lamp port1 (phone): on=true"},
		{"softphone 102: connected", "caller_connected 102"},
	} {
		if !strings.Contains(tl, want[0]) && !strings.Contains(tl, want[1]) {
			b.dump()
			t.Errorf("the timeline lacks %q (or %q)", want[0], want[1])
		}
	}
	b.shot("panel.png", "")

	// A caller added from the panel with its behaviour, calling 101 with
	// the presentation typed in its card: the name on the drawn display.
	b.do("add a caller", b.set("#caller-number", "6135550500"), b.set("#caller-name", "Panel Pal"),
		b.set("#caller-when", "no_answer"), b.click("#caller-add"))
	b.wait("the caller's card, its behaviour shown", `(document.querySelector('#sp-6135550500 .behaviour')?.textContent || '').includes('when called: no_answer')`, 10*time.Second)
	b.do("call as Acme Corp", b.set("#sp-6135550500 .to", "101"), b.set("#sp-6135550500 .p-name", "Acme Corp"),
		b.set("#sp-6135550500 .p-number", "+16135550199"), b.click(`#sp-6135550500 [data-action="call"]`))
	b.wait("Acme Corp on the drawn display", `document.querySelector('#phone-display .cid-name').textContent === 'Acme Corp'`, 10*time.Second)
	if n := b.text("#phone-display .cid-number"); !strings.HasSuffix(n, "6135550199") {
		t.Errorf("the display shows number %q, want …6135550199", n)
	}
	b.do("the caller hangs up", b.click(`#sp-6135550500 [data-action="hangup"]`))
	b.do("set busy", b.set("#sp-6135550500 .when", "busy"), b.click(`#sp-6135550500 [data-action="behaviour"]`))
	b.wait("busy shown", `document.querySelector('#sp-6135550500 .behaviour').textContent.includes('when called: busy')`, 5*time.Second)

	// A line fault from the panel's form reaches the line model.
	var lv struct {
		Conditions struct {
			TipGroundOhms float64 `json:"tip_ground_ohms"`
		} `json:"conditions"`
	}
	b.do("set a tip-ground leak", b.click("#line-faults summary"), b.set("#lf-tip-ground", "20000"), b.click("#lf-set"))
	e.eventually("the leak on the line", 5*time.Second, func() bool {
		e.mustOK("GET", "/v1/ports/1/line", "", &lv)
		return lv.Conditions.TipGroundOhms == 20000
	})
	b.do("clear the line faults", b.click("#lf-clear"))
	e.eventually("the leak gone", 5*time.Second, func() bool {
		e.mustOK("GET", "/v1/ports/1/line", "", &lv)
		return lv.Conditions.TipGroundOhms == 0
	})

	// An action the API refuses is shown, not swallowed.
	b.do("dial on-hook", b.set("#dial-digits", "5"), b.click("#dial-dtmf"))
	b.wait("the refusal shown", `document.querySelector('#toast').classList.contains('err')`, 3*time.Second)
	t.Logf("panel test: %v in the browser", time.Since(start).Round(100*time.Millisecond))

	// The panel's own handler answers bad requests with 4xx and a message.
	for path, want := range map[string]int{"/panel/line?ms=5": 400, "/panel/recordings/..%2fx.wav": 400, "/panel/recordings/none.wav": 404} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, res.StatusCode, want)
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for one writer and one reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// basesim as `make sim` runs it prints the panel's address in its banner,
// serves the panel there and sends a browser asking for / to it, beside the
// control API.
func TestBannerNamesThePanel(t *testing.T) {
	port := testpeer.FreePort(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errs lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-console=false", "-mqtt", "127.0.0.1:0", "-pbx", "127.0.0.1:0", "-sip", "127.0.0.1:0",
			"-api", fmt.Sprintf("127.0.0.1:%d", port), "-state-dir", t.TempDir()}, strings.NewReader(""), &out, &errs)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("basesim: %v\n%s", err, errs.String())
		}
	}()
	want := fmt.Sprintf("web panel:               http://127.0.0.1:%d/panel/", port)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the banner has no %q:\n%s\n%s", want, out.String(), errs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	res, err := http.Get(base + "/panel/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(b), `<script src="panel.js">`) {
		t.Fatalf("GET /panel/: %d\n%.300s", res.StatusCode, b)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err = noFollow.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != "/panel/" {
		t.Fatalf("GET /: %d to %q, want 302 to /panel/", res.StatusCode, res.Header.Get("Location"))
	}
	for path, want := range map[string]int{"/v1/base": 200, "/v1/nonesuch": 404, "/panel/config.json": 200} {
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, res.StatusCode, want)
		}
	}
}
