package ops_test

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice/ops"
)

// chromium returns the path of a Chromium to drive. Without one the test
// is skipped, except in CI (CI set), where .ci/run installs Debian's
// chromium package and a missing browser is a failure.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("SLUICE_CHROMIUM"), "chromium", "chromium-browser"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium found, and CI is set: .ci/run installs Debian's chromium package (apt-get install -y chromium); SLUICE_CHROMIUM names another binary")
	}
	t.Skip("skipping the dashboard's browser test: no chromium on PATH (apt-get install -y chromium, or set SLUICE_CHROMIUM)")
	return ""
}

// poll waits for a JavaScript condition on the page.
func poll(cond string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingInterval(50*time.Millisecond))
}

// domGraph is what the dashboard shows of the job graph, read from the page.
type domGraph struct {
	Vertices []struct {
		ID          int      `json:"id"`
		Parallelism int      `json:"parallelism"`
		UIDs        []string `json:"uids"`
		Names       []string `json:"names"`
		Level       string   `json:"level"`
		X, Y, W, H  float64
	} `json:"vertices"`
	Edges []struct {
		From int `json:"from"`
		To   int `json:"to"`
	} `json:"edges"`
	Guarantee string   `json:"guarantee"`
	Links     []string `json:"links"`
	State     string   `json:"state"`
}

const readGraph = `(() => {
  const vs = [...document.querySelectorAll('#graph .vertex')].map(v => {
    const r = v.getBoundingClientRect();
    return {id: +v.dataset.vertexId, parallelism: +v.querySelector('.par').textContent,
      uids: [...v.querySelectorAll('.op')].map(o => o.dataset.uid),
      names: [...v.querySelectorAll('.op .op-name')].map(o => o.textContent),
      level: ['ok','low','high'].find(c => v.classList.contains(c)) || '',
      X: r.x, Y: r.y, W: r.width, H: r.height};
  });
  const es = [...document.querySelectorAll('#edges .edge-label')].map(e => ({from: +e.dataset.from, to: +e.dataset.to}));
  return {vertices: vs, edges: es, guarantee: document.getElementById('guarantee-overall').textContent,
    links: [...document.querySelectorAll('#guarantee-links tr')].map(r => r.dataset.name),
    state: document.getElementById('job-state').textContent};
})()`

// TestDashboardInBrowser opens the dashboard of a running job in headless
// Chromium: it shows every operator of the graph, its counts increase, a
// click takes a savepoint, and the page's structure (vertices, operators,
// edges, layout, guarantee) is what the REST API says.
func TestDashboardInBrowser(t *testing.T) {
	exe := chromium(t)
	job, srv := startJob(t)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1400, 1000))
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	defer cancelTimeout()

	nvert := len(job.Plan().Vertices)
	var nops int
	for _, v := range job.Plan().Vertices {
		nops += len(v.Ops)
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.DashboardURL()),
		chromedp.WaitVisible(chromedp.CSS(`#graph .vertex`)),
		poll(`document.querySelectorAll('#graph .vertex').length === `+strconv.Itoa(nvert)+
			` && document.querySelectorAll('#graph .op').length === `+strconv.Itoa(nops)),
	); err != nil {
		t.Fatalf("the dashboard shows no graph of %d vertices and %d operators: %v", nvert, nops, err)
	}

	// The counts on the page increase.
	sinkIn := `+document.querySelector('.op[data-uid="sink"] .op-in').dataset.count || 0`
	if err := chromedp.Do(ctx, poll(sinkIn+` > 0`)); err != nil {
		t.Fatalf("the sink's count never shows: %v", err)
	}
	before, err := chromedp.Run(ctx, chromedp.Evaluate[int](sinkIn))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, poll(sinkIn+` > `+strconv.Itoa(before))); err != nil {
		t.Fatalf("the sink's count stays at %d: %v", before, err)
	}

	// A click takes a savepoint; the page shows its path, which the REST
	// API lists in the checkpoint history, and the page's table then too.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.ID(`savepoint`)),
		poll(`document.getElementById('action-result').dataset.path || document.getElementById('action-result').className === 'err'`),
	); err != nil {
		t.Fatalf("clicking the savepoint button: %v", err)
	}
	path, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('action-result').dataset.path || document.getElementById('action-result').textContent`))
	if err != nil {
		t.Fatal(err)
	}
	var cps ops.Checkpoints
	getJSON(t, srv.URL()+"/api/v1/checkpoints", &cps)
	if !slices.ContainsFunc(cps.History, func(c ops.CheckpointEntry) bool { return c.Kind == "savepoint" && c.Path == path }) {
		t.Fatalf("the page says %q; the REST API's history has no such savepoint: %+v", path, cps.History)
	}
	if err := chromedp.Do(ctx, poll(`document.querySelectorAll('#cp-rows tr[data-kind="savepoint"]').length > 0`)); err != nil {
		t.Errorf("the checkpoint table shows no savepoint: %v", err)
	}

	// The page's structure against the REST API.
	page, err := chromedp.Run(ctx, chromedp.Evaluate[domGraph](readGraph))
	if err != nil {
		t.Fatal(err)
	}
	var info ops.JobInfo
	getJSON(t, srv.URL()+"/api/v1/job", &info)
	if len(page.Vertices) != len(info.Vertices) {
		t.Fatalf("page shows %d vertices, the API %d", len(page.Vertices), len(info.Vertices))
	}
	box := map[int]int{}
	for i, v := range info.Vertices {
		p := page.Vertices[i]
		box[p.ID] = i
		var uids, names []string
		for _, o := range v.Operators {
			uids = append(uids, o.UID)
			names = append(names, o.Name)
		}
		if p.ID != v.ID || p.Parallelism != v.Parallelism || !slices.Equal(p.UIDs, uids) || !slices.Equal(p.Names, names) || p.Level == "" {
			t.Errorf("vertex %d: page %+v, API id %d parallelism %d operators %v %v", i, p, v.ID, v.Parallelism, uids, names)
		}
		if p.W <= 0 || p.H <= 0 {
			t.Errorf("vertex %d is not visible: %+v", v.ID, p)
		}
	}
	if len(page.Edges) != len(info.Edges) {
		t.Errorf("page shows %d edges, the API %d", len(page.Edges), len(info.Edges))
	}
	for i, e := range info.Edges {
		if i >= len(page.Edges) {
			break
		}
		if page.Edges[i].From != e.From || page.Edges[i].To != e.To {
			t.Errorf("edge %d: page %+v, API %d -> %d", i, page.Edges[i], e.From, e.To)
		}
		// Data flows left to right on the page.
		a, b := page.Vertices[box[e.From]], page.Vertices[box[e.To]]
		if a.X+a.W > b.X {
			t.Errorf("edge %d -> %d: the receiver (x=%v) is not right of the sender (x=%v, width %v)", e.From, e.To, b.X, a.X, a.W)
		}
	}
	var links []string
	for _, l := range info.Guarantee.Links {
		links = append(links, l.Name)
	}
	if page.Guarantee != info.Guarantee.Guarantee || !slices.Equal(page.Links, links) {
		t.Errorf("guarantee: page %q %v, API %q %v", page.Guarantee, page.Links, info.Guarantee.Guarantee, links)
	}
	if page.State != "running" {
		t.Errorf("page says the job is %q", page.State)
	}

	// A screenshot of the page decodes and has the window's size.
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 800 || b.Dy() < 600 {
		t.Errorf("screenshot of %v", b)
	}
	if dir := os.Getenv("SLUICE_SCREENSHOTS"); dir != "" {
		_ = os.WriteFile(dir+"/dashboard.png", shot, 0o644)
	}
}
