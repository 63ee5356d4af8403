package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aiplatform/infra/internal/charts"
	"github.com/aiplatform/infra/workloads"
)

const chartsDoc = `Fetch or verify the packaged add-on charts: every version the platform
supports (workloads.AddonCharts: each pin and previous pin), checked against
its content digest (workloads/chart_digests.go; the digest is defined in
docs/testing.md, "Packaged charts").

  aiplatform charts fetch -dir DIR [-timeout 2m]
  aiplatform charts verify -dir DIR

fetch fills DIR for the chart tests (AIPLATFORM_CHARTS=DIR) or for a chart
mirror directory (chartRepository); verify checks a directory, e.g. a
mirror's, without the network.

Input:  the chart table and its digests; fetch also reads each chart's
        official Helm repository over HTTPS: <repo>/index.yaml, then the
        first URL of the chart's entry (relative URLs resolve against the
        repository).
Output: DIR/<name>-<version>.tgz for every supported version. fetch keeps a
        file that has the right digest (no download), downloads the others
        and writes each only if its digest is right, through a temporary
        file and a rename; one line per chart on stdout. Every chart that is
        missing, unlisted in its repository or has another digest is named
        on stderr with its repository, the expected and the got digest; a
        bad download is not written.
Exit:   0 every chart is in DIR with its digest, 1 some chart is not (or a
        request failed three times, or was refused), 2 usage.`

func init() {
	register("charts", "fetch or verify the packaged add-on charts against their content digests", runCharts)
}

// chartPins, chartsClient and chartsBackoff are what the charts command
// fetches and how; tests replace them.
var (
	chartPins     = workloads.ChartPins
	chartsBackoff = 2 * time.Second
	chartsClient  = func(timeout time.Duration) *http.Client {
		return &http.Client{
			Timeout: timeout,
			// GitHub Pages indexes point at release assets on other hosts:
			// redirects are followed, but never off TLS.
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if req.URL.Scheme != "https" {
					return fmt.Errorf("redirect to %s refused: charts are fetched over TLS only", req.URL)
				}
				if len(via) >= 10 {
					return errors.New("more than 10 redirects")
				}
				return nil
			},
		}
	}
)

func chartsUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: aiplatform charts fetch|verify -dir DIR [flags]\n\n%s\n\nFlags:\n", chartsDoc)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

func runCharts(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("charts", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dir := fs.String("dir", "", "the directory of packaged charts, <name>-<version>.tgz (required; fetch creates it)")
	timeout := fs.Duration("timeout", 2*time.Minute, "fetch: the limit for each HTTP request (index.yaml or one chart), e.g. 30s or 5m")
	action, code, ok := parseAction("charts", args, fs, func() { chartsUsage(stderr, fs) }, stderr, "fetch", "verify")
	if !ok {
		return code
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "aiplatform charts %s: unexpected argument %q; the directory is given with -dir\n", action, fs.Arg(0))
		return exitUsage
	case *dir == "":
		fmt.Fprintf(stderr, "aiplatform charts %s: -dir is required: the directory of <name>-<version>.tgz, e.g. -dir \"$RUNNER_TEMP/charts\"\n", action)
		return exitUsage
	case *timeout <= 0:
		fmt.Fprintf(stderr, "aiplatform charts %s: -timeout %s must be positive, e.g. 2m\n", action, *timeout)
		return exitUsage
	}

	pins := chartPins()
	var err error
	if action == "fetch" {
		f := &charts.Fetcher{Client: chartsClient(*timeout), Log: stdout, Attempts: 3, Backoff: chartsBackoff}
		err = f.Fetch(context.Background(), *dir, pins)
	} else {
		err = charts.Verify(*dir, pins)
	}
	if err != nil {
		fmt.Fprintf(stderr, "aiplatform charts %s: %s does not hold every chart with its content digest:\n", action, *dir)
		for _, e := range flatten(err) {
			fmt.Fprintf(stderr, "  - %v\n", e)
		}
		return exitFail
	}
	fmt.Fprintf(stdout, "ok: %d charts in %s, each with its content digest\n", len(pins), *dir)
	return exitOK
}
