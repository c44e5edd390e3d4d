package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/peerdesk/peerdesk/coordinator/overlay"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

var errorCodes = []string{
	wire.CodeBadRequest, wire.CodeUnauthorized, wire.CodeForbidden, wire.CodeLocked, wire.CodeRateLimited,
	wire.CodeNotFound, wire.CodeConflict, wire.CodeExpired, wire.CodeInternal,
}

// FuzzHandlers posts arbitrary bodies, with valid credentials, to every
// endpoint that reads one. The server must never panic, must answer 2xx or
// a JSON wire.Error with a known code, and 200 answers must be JSON.
//
// Bodies may carry placeholders that are replaced by live values, so that
// the fuzzer can reach the success paths: $TOKEN (a fresh enrollment
// token), $MACHINE (a fresh machine id), $DEVICE (the enrolled device).
func FuzzHandlers(f *testing.F) {
	e := newEnv(f)
	admin := e.session(f, "alice", policy.RoleAdmin)
	dev := e.enroll(f, "pc-1", 'a')
	if err := e.accounts.RecordOverlayKey(100, "alice"); err != nil {
		f.Fatal(err)
	}
	e.overlay.setNodes(
		overlay.Node{ID: 1, NodeKey: "nodekey:a1", Tags: []string{wire.TagTech}, AuthKeyID: 100},
		overlay.Node{ID: 2, NodeKey: "nodekey:b2", Tags: []string{wire.TagAgent}, AuthKeyID: dev.keyID, IPv4: netip.MustParseAddr("100.64.0.7")},
	)
	targets := []struct {
		h          http.Handler
		path, auth string
	}{
		{e.pub, wire.PathEnroll, ""},
		{e.pub, wire.PathLogin, ""},
		{e.pub, wire.PathGrant, admin},
		{e.pub, wire.PathTokens, admin},
		{e.pub, wire.PathInventory, dev.auth},
		{e.pub, wire.PathHeartbeat, dev.auth},
		{e.pub, wire.PathAgentAudit, dev.auth},
		{e.local, LocalPathTokens, ""},
	}
	seed := func(path string, bodies ...string) {
		i := slices.IndexFunc(targets, func(t struct {
			h          http.Handler
			path, auth string
		}) bool {
			return t.path == path
		})
		for _, b := range bodies {
			f.Add(uint8(i), []byte(b))
		}
	}
	seed(wire.PathEnroll,
		`{"token":"$TOKEN","machine_id":"$MACHINE","hostname":"pc-2","os":"linux"}`,
		`{"token":"$TOKEN","machine_id":"$MACHINE","hostname":"../x"}`,
		`{"token":"pde1-00000000-`+strings.Repeat("0", 40)+`-`+strings.Repeat("0", 64)+`","machine_id":"$MACHINE","hostname":"h"}`,
		`{"token":"pde1-x"}`, ``, `null`, `[]`, `{"token":1}`)
	seed(wire.PathLogin,
		`{"username":"alice","password":"0123456789"}`, `{"username":1}`, `{"username":"a"} {}`, `{"unknown":true}`)
	seed(wire.PathGrant,
		`{"device_id":"$DEVICE","node_key":"nodekey:a1","capabilities":["sysinfo"]}`,
		`{"device_id":"$DEVICE","node_key":"nodekey:b2","capabilities":["sysinfo"]}`,
		`{"device_id":"$DEVICE","node_key":"nodekey:a1","capabilities":[]}`,
		`{"device_id":"`+strings.Repeat("d", 70000)+`"}`)
	seed(wire.PathTokens, `{}`, `{"ttl":"1h","note":"desk"}`, `{"ttl":"-1h"}`, `{"ttl":5}`)
	seed(wire.PathInventory,
		`{"hostname":"pc-1","os":"linux","disks":[{"mount":"/","total_bytes":1}],"last_boot":"2026-11-21T12:00:00Z"}`,
		`{"last_boot":"9999-12-31T23:59:59-23:59"}`,
		`{"ram_bytes":-1}`, `{"disks":null}`)
	seed(wire.PathHeartbeat, `{"agent_version":"1","uptime":"1h","sent":"2026-11-21T12:00:00Z"}`, `{"uptime":"x"}`, `{}`)
	seed(wire.PathAgentAudit,
		`[{"time":"2026-11-21T12:00:00Z","actor":"bob","action":"peer.sysinfo","outcome":"ok","fields":{"a":"b"}}]`,
		`[{"time":"9999-12-31T23:59:59-23:59","action":"peer.sysinfo"}]`, // once panicked the audit trail
		`[{"reason":"`+strings.Repeat("r", 1000)+`"}]`,
		`[`+strings.Repeat(`{},`, maxAgentAudit)+`{}]`,
		`null`, `{}`)
	seed(LocalPathTokens, `{}`, `{"ttl":"720h1m"}`)

	var calls uint32
	f.Fuzz(func(t *testing.T, sel uint8, body []byte) {
		tg := targets[int(sel)%len(targets)]
		calls++
		body = bytes.ReplaceAll(body, []byte("$DEVICE"), []byte(dev.DeviceID))
		if bytes.Contains(body, []byte("$TOKEN")) {
			body = bytes.ReplaceAll(body, []byte("$TOKEN"), []byte(e.token(t)))
		}
		machine := fmt.Sprintf("%064x", calls)
		body = bytes.ReplaceAll(body, []byte("$MACHINE"), []byte(machine))
		remote := clientAddr
		if tg.path == wire.PathEnroll {
			// A fresh address per call, so the rate limit does not end
			// the exploration of the enrollment path.
			remote = fmt.Sprintf("10.%d.%d.%d:1", byte(calls>>16), byte(calls>>8), byte(calls))
		}

		w := e.doFrom(tg.h, remote, "POST", tg.path, tg.auth, string(body))
		switch {
		case w.Code == http.StatusOK:
			if !json.Valid(w.Body.Bytes()) {
				t.Fatalf("POST %s: 200 with a body that is not JSON: %q", tg.path, w.Body)
			}
		case w.Code == http.StatusNoContent, w.Code == http.StatusCreated:
		case w.Code >= 400 && w.Code < 600:
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Fatalf("POST %s: %d with Content-Type %q", tg.path, w.Code, ct)
			}
			var we wire.Error
			dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&we); err != nil {
				t.Fatalf("POST %s: %d with a body that is not a wire.Error: %q: %v", tg.path, w.Code, w.Body, err)
			}
			if !slices.Contains(errorCodes, we.Code) || we.Message == "" {
				t.Fatalf("POST %s: %d with error %+v", tg.path, w.Code, we)
			}
			if w.Code == http.StatusInternalServerError && we.Code != wire.CodeInternal {
				t.Fatalf("POST %s: 500 with code %q", tg.path, we.Code)
			}
		default:
			t.Fatalf("POST %s: unexpected status %d", tg.path, w.Code)
		}
	})
}
