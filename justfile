# peerdesk — tasks. `just demo` runs the journey on one machine; `just test`
# runs the whole test suite (what CI runs).

set shell := ["bash", "-euo", "pipefail", "-c"]

# Debian packages the recipes need: command=package, or a library package.
# The agent links OpenH264 and libyuv (H.264), X11 and XTest (capture, input);
# libopenh264-dev brings libopenh264-7, which builds without cgo load at run time.
build-packages := "gcc=gcc pkg-config=pkg-config libopenh264-dev libyuv-dev libx11-dev libxtst-dev"
test-packages := "ip=iproute2 unshare=util-linux chromium=chromium git=git Xvfb=xvfb systemd-analyze=systemd dbus-daemon=dbus"

default:
    @just --list

# Install the Debian packages the recipes need, if missing (uses apt-get).
deps: build-deps
    scripts/ensure-packages.sh {{test-packages}}

build-deps:
    scripts/ensure-packages.sh {{build-packages}}

# Build the three binaries into bin/.
build: build-deps
    go build -o bin/ ./cmd/peerdesk ./cmd/peerdesk-agent ./cmd/peerdesk-viewer

# A support session end to end on this machine: coordinator, code, the
# one-time agent on an X desktop of its own, consent, the live screen, a file
# pushed and pulled, a shell command; screenshots saved (paths printed).
demo: deps build
    go run ./demo

# The enrolled-agent journey: coordinator, enrolled agent, technician's viewer
# fetching system information peer to peer, the coordinator stopped mid-session.
demo-enrolled: build
    scripts/demo.sh

# Build the real Ollama server the triage tests run against (the pinned
# version, from its Go module source, cgo, CPU only: about 4 minutes cold on
# 2 cores) into ~/.cache/peerdesk/ollama-<version>/; a no-op when it is there.
ollama:
    scripts/ollama-build.sh

# wine64 and mingw-w64 are installed if missing; the bcryptprimitives.dll shim
# Go's runtime needs under Wine 8.0 is built from harness/wine/shim; all is
# cached in ~/.cache/peerdesk/wine/ (cold: ≈ 30 s of packages and 12 s of
# prefix on 2 busy cores; a no-op when ready). harness/wine tests use it.
# OpenH264's Windows DLL is built from Debian's source package with mingw-w64
# and nasm (scripts/openh264-win.sh; cold 95–234 s on 2 shared cores;
# cached in ~/.cache/peerdesk/openh264/ by source version).
# Set up the Windows test lane (a Wine prefix with the shim); prints it.
wine:
    scripts/wine-lane.sh

# Everything CI checks: vet (Linux and the Windows agent, 64- and 32-bit), formatting, and
# every test under the race detector.
test: deps ollama
    scripts/wine-lane.sh >/dev/null
    test -z "$(gofmt -l $(git ls-files '*.go' | grep -v '_templ\.go$'))" || { gofmt -l .; echo 'gofmt needed'; exit 1; }
    go run github.com/a-h/templ/cmd/templ@v0.3.977 generate -path ./templates >/dev/null
    git diff --exit-code -- templates/ || { echo 'templates/*_templ.go are stale: run templ generate and commit'; exit 1; }
    go vet ./...
    GOOS=windows go vet ./agent/... ./cmd/peerdesk-agent ./node/... ./wire/... ./grant/...
    GOOS=windows go build -o /dev/null ./cmd/peerdesk-agent ./cmd/peerdesk-viewer
    GOOS=windows GOARCH=386 go vet ./agent/... ./cmd/peerdesk-agent ./node/... ./wire/... ./grant/... ./cmd/peerdesk-viewer
    GOOS=windows GOARCH=386 go build -o /dev/null ./cmd/peerdesk-agent ./cmd/peerdesk-viewer
    go test -race -count=1 -timeout 40m ./...
    # Upstream's tests of the patched wireguard-go package (third_party/wireguard-go/PEERDESK.md).
    scripts/wireguard-upstream-tests.sh -race -count=1
    # Upstream's tests of the patched Headscale packages (third_party/headscale/PEERDESK.md), placed from the
    # module cache for the run and removed after (never committed), run from peerdesk's module so with the
    # dependency versions it ships. -short skips upstream's 1,000-node scale and full-pipeline tests (> 10 min
    # without -race; upstream skips them under -race), none of which tests the patched code alone:
    # ~6.5 min under -race on 2 busy vCPUs (2026-12-07). Skipped, both for pacing themselves by sleeps and failing
    # on contended CPUs: TestWorkMu_PreventsInterTickRace (orders two goroutines by a 5 ms sleep) and
    # TestBatcher_CloseWaitsForWorkers (expects 4 workers started within a 20 ms sleep; "4 is not >= 5" in CI).
    scripts/headscale-upstream-tests.sh -short -race -count=1 -timeout 40m -skip '^(TestWorkMu_PreventsInterTickRace|TestBatcher_CloseWaitsForWorkers)$'
    # The encoder the Windows agent uses (OpenH264 loaded without cgo), through purego's own cgo stand-in.
    CGO_ENABLED=0 go test -count=1 ./agent/screen/h264/internal/wels

# The fast inner loop: every test but the browser and overlay e2e (under a minute).
short: build-deps
    go test -short -count=1 ./...

# `go test ./...` N times, every second run with the CPUs contended; prints a
# table of every test that failed with its count. Extra arguments go to go test.
stress runs="10" *args="": deps
    scripts/stress.sh {{runs}} {{args}}

# Every target runs to the end, then one table of all; the recipe fails if any
# target did. `only` is a regexp of "package target". Seed corpora
# (testdata/fuzz) also run in `just test`.
# Run every fuzz target for `seconds` each (or those matching `only`).
fuzz seconds="20" only="":
    scripts/fuzz.sh {{seconds}} {{quote(only)}}

# Screenshots of every page a new shop meets in its first hour, taken by the
# browser test of that hour (e2e TestFirstHour) into docs/shots/*.png.
shots: deps build-deps
    rm -rf docs/shots
    PEERDESK_SHOTS="$PWD/docs/shots" go test -count=1 -run '^TestFirstHour$' ./e2e/
    ls docs/shots

# Benchmarks recorded in docs/BENCHMARKS.md.
bench: deps build
    scripts/bench.sh
