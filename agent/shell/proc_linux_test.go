package shell

import "testing"

func TestStatSession(t *testing.T) {
	t.Parallel()
	for stat, want := range map[string]int{
		"1234 (sleep) S 1 1234 1234 0 -1": 1234,
		"99 (a b) (c)) R 5 6 77 34816 99": 77,
		"garbage":                         0,
		"1 (x) S 0":                       0,
	} {
		got, ok := statSession(stat)
		if got != want || ok != (want != 0) {
			t.Errorf("%q: %d %v, want %d", stat, got, ok, want)
		}
	}
}
