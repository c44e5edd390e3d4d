package harness

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestOpenerRecordsURLs: what an agent binary runs to open the end user's
// page — xdg-open found on PATH, or $BROWSER — and what an in-process
// agent calls (Open) all land in the Opener, each URL once and in order,
// with nothing else of the command line.
func TestOpenerRecordsURLs(t *testing.T) {
	t.Parallel()
	o := NewOpener(t)
	env := append(os.Environ(), o.Env()...)
	lookup := func(key string) string {
		v := ""
		for _, kv := range env {
			if k, val, _ := strings.Cut(kv, "="); k == key {
				v = val // the last one wins, as for exec.Cmd.Env
			}
		}
		return v
	}

	// xdg-open as the agent starts it: by name, through the PATH Env sets.
	xdg := exec.Command("xdg-open", "http://127.0.0.1:1/p/open/one")
	xdg.Env = env
	xdg.Path = ""
	for _, dir := range strings.Split(lookup("PATH"), string(os.PathListSeparator)) {
		if _, err := os.Stat(dir + "/xdg-open"); err == nil {
			xdg.Path = dir + "/xdg-open"
			break
		}
	}
	if xdg.Path != o.dir+"/xdg-open" {
		t.Fatalf("xdg-open resolves to %q under Env's PATH, want the opener in %s", xdg.Path, o.dir)
	}
	if out, err := xdg.CombinedOutput(); err != nil {
		t.Fatalf("xdg-open: %v\n%s", err, out)
	}
	if got := o.Next(t); got != "http://127.0.0.1:1/p/open/one" {
		t.Fatalf("Next = %q after xdg-open", got)
	}

	// $BROWSER, as xdg-open runs it without a desktop; an argument with
	// shell characters is recorded as it is.
	odd := "http://127.0.0.1:1/p/open/two?a=$(id)&b='c'"
	br := exec.Command(lookup("BROWSER"), odd)
	br.Env = env
	if out, err := br.CombinedOutput(); err != nil {
		t.Fatalf("$BROWSER: %v\n%s", err, out)
	}
	if err := o.Open("http://127.0.0.1:1/p/open/three"); err != nil {
		t.Fatal(err)
	}
	if err := o.Open("http://x/\nhttp://y/"); err == nil {
		t.Fatal("Open took a URL with a line break")
	}
	if got := o.Next(t); got != odd {
		t.Fatalf("Next = %q, want %q", got, odd)
	}
	if got := o.Next(t); got != "http://127.0.0.1:1/p/open/three" {
		t.Fatalf("Next = %q after Open", got)
	}
	want := []string{"http://127.0.0.1:1/p/open/one", odd, "http://127.0.0.1:1/p/open/three"}
	if got := o.URLs(t); !slices.Equal(got, want) {
		t.Fatalf("URLs = %q, want %q", got, want)
	}
}
