// Package leak fails a test that leaves goroutines running: a server not
// closed, a stream not ended, a tsnet node not stopped. The check sits in
// the test that leaks, not in whichever package's tests happen to run
// next.
//
//	func TestX(t *testing.T) {
//		leak.Check(t) // first: its cleanup runs last, after the test's own
//		...
//	}
//
// Goroutines already running when Check is called are not the test's and
// are ignored, as are the few that libraries start once per process and
// never stop (listed in processWide, each with its reason).
package leak

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/peerdesk/peerdesk/harness/wait"
)

// Patience is how long Find lets goroutines on their way out finish before
// it reports them: goleak's own retries last under half a second, which a
// connection's reader or a library's read loop can outlast on a loaded
// 2-core machine after a Close that did end it. A real leak is reported
// after this long.
const Patience = 10 * time.Second

// processWide are goroutines a dependency starts and never stops. Each is
// one per process (or per object the dependency never lets us close), not
// one per request, so it cannot grow with use.
var processWide = []goleak.Option{
	// Headscale's registration cache (golang-lru/v2 expirable) starts a
	// cleaner goroutine its library never stops ("done channel is never
	// closed", expirable_lru.go): one per coordinator lifetime.
	goleak.IgnoreAnyFunction("github.com/hashicorp/golang-lru/v2/expirable.NewLRU[...].func1"),
	// glog's flush daemon, started at init by a transitive dependency.
	goleak.IgnoreTopFunction("github.com/golang/glog.(*fileSink).flushDaemon"),
	// OpenCensus' stats worker, started at init by a transitive dependency.
	goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
}

// Check registers a cleanup that fails t if goroutines started since the
// call are still running when the test and its other cleanups are done.
// goleak retries for a while before it reports, so a goroutine on its way
// out is waited for, not reported.
func Check(t testing.TB, opts ...goleak.Option) {
	t.Helper()
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		if err := Find(append([]goleak.Option{before}, opts...)...); err != nil {
			t.Errorf("leaked goroutines: %v", err)
		}
	})
}

// Find reports goroutines left running beyond those opts and processWide
// ignore, once they have had Patience to end; nil when there are none.
func Find(opts ...goleak.Option) error {
	all := append(append([]goleak.Option{}, processWide...), opts...)
	return wait.Until(Patience, func() error { return goleak.Find(all...) })
}

// Main runs m and fails the package if goroutines are left running when
// every test is done; for packages whose tests share servers across tests
// (TestMain wrappers such as netns.Main call it around m.Run).
func Main(m *testing.M, opts ...goleak.Option) int {
	code := m.Run()
	if code != 0 {
		return code
	}
	if err := Find(opts...); err != nil {
		println("leak: goroutines left running after all tests:", err.Error())
		return 1
	}
	return 0
}

// Goroutines returns the stack of every goroutine in the process, one
// string each (header line first, then frames), for tests that wait for a
// goroutine to reach or leave a function.
func Goroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Split(string(buf[:n]), "\n\n")
		}
		buf = make([]byte, 2*len(buf))
	}
}
