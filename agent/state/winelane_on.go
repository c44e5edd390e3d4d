//go:build windows && peerdesk_winelane

package state

// wineLane is true only in the Windows test lane's builds (harness/wine
// builds the agent with -tags peerdesk_winelane; no release build does).
//
// Wine keeps no file security descriptors: it maps a DACL set with
// SetNamedSecurityInfo onto Unix mode bits and, reading it back, derives a
// DACL from the mode (Debian's Wine 8.0 has no user.wine.sd xattr store).
// The protected flag and the SY/BA entries never come back, so the check
// would refuse every state directory and the agent could neither install
// nor run under Wine (probe: e2e.TestWindowsService's first step, which
// runs the release build). In the lane the DACL is still set (the call must
// succeed) but not checked; the check itself is tested on Linux
// (TestH2CheckDACL) and natively on Windows.
const wineLane = true
