package webui

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCrumbs(t *testing.T) {
	t.Parallel()
	for p, want := range map[string][][2]string{
		"/":         {{"/", "top"}},
		"/a":        {{"/", "top"}, {"/a", "a"}},
		"/C:/Users": {{"/", "top"}, {"/C:", "C:"}, {"/C:/Users", "Users"}},
	} {
		if d := cmp.Diff(want, crumbs(p)); d != "" {
			t.Errorf("crumbs(%q) (-want +got):\n%s", p, d)
		}
	}
}
