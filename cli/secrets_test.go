package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

// fakeTerm answers ReadPassword with one typed line after another.
type fakeTerm struct{ typed []string }

func (f *fakeTerm) ReadPassword() ([]byte, error) {
	if len(f.typed) == 0 {
		return nil, errors.New("nothing typed")
	}
	s := f.typed[0]
	f.typed = f.typed[1:]
	return []byte(s), nil
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// TestSecretsStdin: without a terminal each call reads one line of
// standard input and no more, so a password and a code can follow each
// other; nothing is prompted.
func TestSecretsStdin(t *testing.T) {
	t.Parallel()
	var prompt bytes.Buffer
	s := Secrets{Getenv: env(nil), Stdin: strings.NewReader("hunter2\r\n123456\nrest"), Prompt: &prompt}
	for _, want := range []string{"hunter2", "123456", "rest", ""} {
		if got, err := s.Password("password: ", "PW"); err != nil || got != want {
			t.Fatalf("got %q, %v; want %q", got, err, want)
		}
	}
	if prompt.Len() != 0 {
		t.Errorf("prompted %q without a terminal", prompt.String())
	}
	s.Stdin = strings.NewReader("new-one\n")
	if got, err := s.NewPassword("password: ", "PW"); err != nil || got != "new-one" {
		t.Errorf("new password from stdin: %q, %v", got, err)
	}
	s.Stdin = strings.NewReader("\n")
	if _, err := s.NewPassword("password: ", "PW"); !errors.Is(err, ErrEmptyPassword) {
		t.Errorf("an empty new password from stdin: %v", err)
	}
	s.Stdin = strings.NewReader(strings.Repeat("x", maxLine+10))
	if _, err := s.Password("password: ", "PW"); err == nil {
		t.Error("a line longer than the bound was taken")
	}
}

// TestSecretsEnv: the environment variable wins over the terminal and
// standard input, and is not asked twice.
func TestSecretsEnv(t *testing.T) {
	t.Parallel()
	term := &fakeTerm{typed: []string{"typed"}}
	s := Secrets{Getenv: env(map[string]string{"PW": "from-env"}), Term: term, Stdin: strings.NewReader("line\n"), Prompt: &bytes.Buffer{}}
	for _, read := range []func(string, string) (string, error){s.Password, s.NewPassword} {
		if got, err := read("password: ", "PW"); err != nil || got != "from-env" {
			t.Errorf("got %q, %v; want the environment's", got, err)
		}
	}
	if len(term.typed) != 1 {
		t.Error("the terminal was read though the environment had the password")
	}
}

// TestSecretsTerminal: on a terminal a password is asked once; a new one
// twice, and a mismatch or an empty one is refused.
func TestSecretsTerminal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		typed []string
		want  string
		err   error
		asked int
	}{
		{[]string{"s3cret", "s3cret"}, "s3cret", nil, 2},
		{[]string{"s3cret", "s3cert"}, "", ErrMismatch, 2},
		{[]string{"", ""}, "", ErrEmptyPassword, 1},
	} {
		var prompt bytes.Buffer
		term := &fakeTerm{typed: tc.typed}
		s := Secrets{Getenv: env(nil), Term: term, Stdin: strings.NewReader("not this\n"), Prompt: &prompt}
		got, err := s.NewPassword("password for ann: ", "PW")
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("typed %q: got %q, %v; want %q, %v", tc.typed, got, err, tc.want, tc.err)
		}
		if n := strings.Count(prompt.String(), ": "); n != tc.asked {
			t.Errorf("typed %q: asked %d times (%q), want %d", tc.typed, n, prompt.String(), tc.asked)
		}
	}
	term := &fakeTerm{typed: []string{"once"}}
	var prompt bytes.Buffer
	s := Secrets{Getenv: env(nil), Term: term, Stdin: strings.NewReader(""), Prompt: &prompt}
	if got, err := s.Password("password: ", "PW"); err != nil || got != "once" || !strings.HasPrefix(prompt.String(), "password: ") {
		t.Errorf("login password: %q, %v, prompt %q", got, err, prompt.String())
	}
}

// TestHelpDispatch: help at every level exits 0 and lists the level's
// commands; no command or an unknown one exits 2; a command with both
// subcommands and flags shows both.
func TestHelpDispatch(t *testing.T) {
	var ran []string
	leaf := func(name string) func(ctx context.Context, args []string) error {
		return func(_ context.Context, args []string) error {
			fs := Flags("p", name)
			fs.String("x", "", "an x")
			fs.SetOutput(io.Discard)
			if err := fs.Parse(args); err != nil {
				return err
			}
			ran = append(ran, name)
			return nil
		}
	}
	cmds := []Command{
		{Name: "top", Usage: "top things", Sub: []Command{{Name: "leaf", Usage: "a leaf", Run: leaf("top leaf")}}},
		{Name: "both", Usage: "both things", Run: leaf("both"), Sub: []Command{{Name: "sub", Usage: "a sub", Run: leaf("both sub")}}},
	}
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{nil, 2, "usage: p <command>"},
		{[]string{"-h"}, 0, "both things"},
		{[]string{"help"}, 0, "top things"},
		{[]string{"nope"}, 2, `unknown command "nope"`},
		{[]string{"top"}, 2, "a leaf"},
		{[]string{"top", "--help"}, 0, "usage: p top <command>"},
		{[]string{"top", "nope"}, 2, `p top: unknown command "nope"`},
		{[]string{"top", "leaf", "help"}, 0, "p top leaf: a leaf"},
		{[]string{"both", "-h"}, 0, "a sub"},
		{[]string{"both", "sub", "-h"}, 0, "p both sub: a sub"},
		{[]string{"both", "-x", "1"}, 0, ""},
		{[]string{"both", "sub"}, 0, ""},
		{[]string{"top", "leaf", "-y"}, 1, "flag provided but not defined"},
	} {
		var out bytes.Buffer
		if code := run("p", cmds, tc.args, &out); code != tc.code || !strings.Contains(out.String(), tc.out) {
			t.Errorf("%q: exit %d, %q; want %d and %q", tc.args, code, out.String(), tc.code, tc.out)
		}
	}
	if want := []string{"both", "both sub"}; strings.Join(ran, ",") != strings.Join(want, ",") {
		t.Errorf("ran %q, want %q", ran, want)
	}
}
