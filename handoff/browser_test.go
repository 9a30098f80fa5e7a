package handoff

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's chromium, which `make test` installs (TEST_PKGS).
const chromiumPath = "/usr/bin/chromium"

// box is what the page says about one element: its box in page
// coordinates and whether its computed style hides it.
type box struct {
	X, Y, W, H float64
	Hidden     bool
	Text       string
	Lines      int // polylines drawn (charts)
	LineW      float64
}

type pageFacts struct {
	PageW, PageH float64
	Charts       []box
	Findings     []box
	Scripts      int
	Background   string
}

// measure runs in the page: where every chart and finding is, and whether
// it is shown. Only the test runs script; the page itself has none.
const measure = `(() => {
  const box = el => {
    const r = el.getBoundingClientRect(), cs = getComputedStyle(el);
    let hidden = cs.display === 'none' || cs.visibility !== 'visible' || parseFloat(cs.opacity) === 0;
    for (let p = el.parentElement; p; p = p.parentElement) {
      const ps = getComputedStyle(p);
      if (ps.display === 'none' || parseFloat(ps.opacity) === 0) hidden = true;
    }
    return {X: r.left + scrollX, Y: r.top + scrollY, W: r.width, H: r.height, Hidden: hidden};
  };
  const d = document.documentElement;
  return {
    PageW: d.scrollWidth, PageH: d.scrollHeight,
    Charts: [...document.querySelectorAll('svg.chart')].map(e => {
      const lines = [...e.querySelectorAll('polyline')];
      return {...box(e), Text: e.getAttribute('aria-label'), Lines: lines.length,
        LineW: Math.max(0, ...lines.map(l => l.getBoundingClientRect().width))};
    }),
    Findings: [...document.querySelectorAll('article.finding')].map(e => ({...box(e), Text: e.querySelector('h3').textContent})),
    Scripts: document.scripts.length,
    Background: getComputedStyle(document.body).backgroundColor,
  };
})()`

// TestHTMLInChromium loads the HTML report from a file in headless Chromium,
// takes a screenshot, and checks that every chart and every finding is in
// the DOM and visible (shown by its computed style, with a non-zero box
// inside the page), that the page made no request but for itself, and that
// it has a dark look when the reader prefers one.
func TestHTMLInChromium(t *testing.T) {
	if _, err := exec.LookPath(chromiumPath); err != nil {
		t.Skip(chromiumPath + " is missing: install Debian's chromium (make test does, through .ci/apt-install)")
	}
	rep := build(t, writeFixture(t, plain), Options{})
	dir := t.TempDir()
	page := filepath.Join(dir, "handoff.html")
	if err := os.WriteFile(page, []byte(html(t, rep)), 0o600); err != nil {
		t.Fatal(err)
	}
	url := "file://" + page

	var mu sync.Mutex
	var requests []string
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		// CI containers often give /dev/shm only 64 MiB, too little for Chromium.
		chromedp.Flag("disable-dev-shm-usage", true),
		// Chromium leaves a singleton-lock directory in $TMPDIR; keep it in ours.
		chromedp.Env("TMPDIR="+dir),
		chromedp.WindowSize(1100, 900))
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		if r, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			requests = append(requests, r.Request.URL)
			mu.Unlock()
		}
	}))
	defer cancel()
	if err := chromedp.Do(ctx); err != nil { // starts the browser; no timeout on this first call
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	tctx, cancelT := context.WithTimeout(ctx, 30*time.Second) // a hang fails, it is not a speed check
	defer cancelT()

	if err := chromedp.Do(tctx, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	light, err := chromedp.Run(tctx, chromedp.Evaluate[pageFacts](measure))
	if err != nil {
		t.Fatal(err)
	}
	shotPath := filepath.Join(dir, "handoff.png")
	if err := os.WriteFile(shotPath, shot, 0o600); err != nil {
		t.Fatal(err)
	}
	if keep := os.Getenv("STAKEOUT_KEEP_SCREENSHOT"); keep != "" { // to look at it by eye
		_ = os.WriteFile(keep, shot, 0o600)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if colours := distinctColours(img, 64); colours < 8 {
		t.Errorf("screenshot %s has %d colours: a blank page?", shotPath, colours)
	}

	if light.Scripts != 0 {
		t.Errorf("the page has %d scripts; it must need none", light.Scripts)
	}
	checkVisible(t, "chart", light.Charts, light, 5) // iostat %util and throughput, signals, packets, diskfill; kmsg was unavailable
	checkVisible(t, "finding", light.Findings, light, len(rep.Findings))
	for i, f := range light.Findings {
		if want := rep.Findings[i].Name; !strings.Contains(f.Text, want) {
			t.Errorf("finding %d reads %q, want %s", i+1, f.Text, want)
		}
	}
	for _, c := range light.Charts {
		if c.Lines == 0 || c.LineW <= 0 {
			t.Errorf("chart %q draws no line (%d polylines, widest %.0f px)", c.Text, c.Lines, c.LineW)
		}
	}

	// Dark: the same page under prefers-color-scheme: dark.
	dark, err := chromedp.Run(tctx, func(ctx context.Context, tg *chromedp.Target) (pageFacts, error) {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
		if err != nil {
			return pageFacts{}, err
		}
		return chromedp.Evaluate[pageFacts](measure)(ctx, tg)
	})
	if err != nil {
		t.Fatal(err)
	}
	if dark.Background == light.Background {
		t.Errorf("the background is %s in both light and dark", dark.Background)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(requests) == 0 {
		t.Fatal("saw no request at all: the network listener is not working")
	}
	for _, u := range requests {
		if u != url {
			t.Errorf("the page fetched %s", u)
		}
	}
}

// checkVisible asserts there are want boxes, each shown, with a non-zero
// size, inside the page.
func checkVisible(t *testing.T, what string, boxes []box, p pageFacts, want int) {
	t.Helper()
	if len(boxes) != want {
		t.Errorf("%d %ss in the DOM, want %d", len(boxes), what, want)
	}
	for i, b := range boxes {
		switch {
		case b.Hidden:
			t.Errorf("%s %d (%s) is hidden by its style", what, i+1, b.Text)
		case b.W < 1 || b.H < 1:
			t.Errorf("%s %d (%s) is %.0f×%.0f px", what, i+1, b.Text, b.W, b.H)
		case b.X < 0 || b.Y < 0 || b.X+b.W > p.PageW+0.5 || b.Y+b.H > p.PageH+0.5:
			t.Errorf("%s %d (%s) at %.0f,%.0f %.0f×%.0f lies outside the %.0f×%.0f page", what, i+1, b.Text, b.X, b.Y, b.W, b.H, p.PageW, p.PageH)
		}
	}
}

// distinctColours counts the colours of img, up to limit.
func distinctColours(img image.Image, limit int) int {
	seen := map[[4]uint32]bool{}
	bnd := img.Bounds()
	for y := bnd.Min.Y; y < bnd.Max.Y; y += 3 {
		for x := bnd.Min.X; x < bnd.Max.X; x += 3 {
			r, g, b, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, b, a}] = true
			if len(seen) >= limit {
				return len(seen)
			}
		}
	}
	return len(seen)
}
