package wine

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestFindNamesJustWine: with no lane set up, Find says so and names the
// recipe that makes one, so a skipped Windows test tells how to run it.
func TestFindNamesJustWine(t *testing.T) {
	t.Setenv("PEERDESK_WINEPREFIX", filepath.Join(t.TempDir(), "no-prefix"))
	l, why := Find()
	if l != (Lane{}) {
		t.Errorf("Find with no prefix = %+v, want the zero Lane", l)
	}
	if !strings.Contains(why, "just wine") {
		t.Errorf("Find with no prefix says %q, want it to name `just wine`", why)
	}
}

// TestEnvOverrides: a Wine process gets the lane's prefix, no Mono or
// Gecko, quiet debug output and the display asked for, whatever the
// caller's environment says.
func TestEnvOverrides(t *testing.T) {
	t.Setenv("WINEPREFIX", "/elsewhere")
	t.Setenv("DISPLAY", ":42")
	t.Setenv("WINEDLLOVERRIDES", "")
	l := Lane{Prefix: "/p", Wine: "/usr/lib/wine/wine64"}
	got := map[string][]string{}
	for _, kv := range l.Env(":7") {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = append(got[k], v)
	}
	for k, want := range map[string]string{
		"WINEPREFIX":       "/p",
		"DISPLAY":          ":7",
		"WINEDEBUG":        "-all",
		"WINEDLLOVERRIDES": "mscoree,mshtml=",
	} {
		if len(got[k]) != 1 || got[k][0] != want {
			t.Errorf("%s = %q, want exactly %q", k, got[k], want)
		}
	}
	if p := got["PATH"]; len(p) != 1 || !strings.HasPrefix(p[0], "/usr/lib/wine:") {
		t.Errorf("PATH = %q, want wine's directory first", p)
	}
}
