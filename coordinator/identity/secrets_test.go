package identity

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/policy"
)

// TestSecretsNotPrinted: the values that carry secrets print, format and
// log without them, whichever verb or handler a careless caller uses.
func TestSecretsNotPrinted(t *testing.T) {
	leak.Check(t)
	a, c := setup(t)
	setupInfo, err := a.BeginTOTP("alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.ConfirmTOTP("alice", code(t, setupInfo.Secret, c.Now())); err != nil {
		t.Fatal(err)
	}
	pending, err := a.Login("alice", "correct horse battery")
	if err == nil || pending.Pending == "" {
		t.Fatalf("login: %v", err)
	}
	if err := a.Create("bob", "correct horse battery", policy.RoleTechnician); err != nil {
		t.Fatal(err)
	}
	login, err := a.Login("bob", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	key, info, err := a.CreateAPIKey(login.Session, "ci", policy.RoleViewer, nil, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	user, err := a.Get("alice")
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{setupInfo.Secret, pending.Pending, login.Token, key, user.Hash,
		fmt.Sprintf("%x", user.TOTP.Sealed), string(user.TOTP.Sealed[12:20]), "correct horse battery"}
	values := []any{setupInfo, pending, login, user, info}
	var out bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&out, nil), slog.NewTextHandler(&out, nil)} {
		l := slog.New(h)
		for _, v := range values {
			l.Info("value", "v", v)
		}
	}
	for _, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			fmt.Fprintf(&out, verb+"\n", v)
		}
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(out.String(), s) {
			t.Errorf("printed a secret (%.6s…) in:\n%s", s, out.String())
		}
	}
}
