//go:build windows && !peerdesk_winelane

package state

// wineLane: see winelane_on.go. Every release build checks the state
// directory's access list.
const wineLane = false
