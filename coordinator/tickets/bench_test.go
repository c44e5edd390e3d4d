package tickets

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/wire"
)

// BenchmarkList lists and searches 10,000 tickets in a real Badger store
// (in memory, so seeding takes seconds, not minutes of fsyncs; a list
// reads the Store's memory either way) as a scoped technician would:
// a page of 50 of one company, filtered by status, and a text search that
// looks at every ticket. It reports each kind's p95.
//
//	go test -run '^$' -bench BenchmarkList -benchtime 200x ./coordinator/tickets
func BenchmarkList(b *testing.B) {
	s, _ := memStore(b)
	companies := []string{"acme", "globex", "initech", "umbrella"}
	for i := range 10_000 {
		at := wire.AgentTicket{ID: fmt.Sprintf("%032x", i), Title: fmt.Sprintf("Printer %d offline on floor %d", i, i%7),
			Description: "The user says the printer blinks orange after the update. " + fmt.Sprint("code ", i*7919),
			Priority:    wire.Priorities[i%4], User: fmt.Sprintf(`ACME\user%d`, i%300), Created: t0}
		dev := Device{ID: fmt.Sprint("dev-", i%500), Name: fmt.Sprint("pc-", i%500), Company: companies[i%4]}
		if _, _, err := s.FileAgent(dev, at); err != nil {
			b.Fatal(err)
		}
	}
	scope := func(c string) bool { return c == "acme" || c == "globex" }
	for _, bc := range []struct {
		name string
		q    Query
	}{
		{"page", Query{Limit: 50}},
		{"status", Query{Status: wire.StatusOpen, Priority: wire.PriorityNormal, Limit: 50}},
		{"search", Query{Text: "code 3959", Limit: 50}},
		{"search-miss", Query{Text: "no such words anywhere", Limit: 50}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var d []time.Duration
			for b.Loop() {
				start := time.Now()
				l, err := s.List(bc.q, scope)
				d = append(d, time.Since(start))
				if err != nil || (bc.name != "search-miss" && len(l.Tickets) == 0) {
					b.Fatalf("%d tickets, %v", len(l.Tickets), err)
				}
			}
			slices.Sort(d)
			b.ReportMetric(float64(d[len(d)*95/100].Microseconds())/1000, "p95-ms")
		})
	}
}
