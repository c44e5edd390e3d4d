//go:build !linux && !windows

package inventory

// osFacts is empty here: the gateway, OS build, logged-on user and DMI
// hardware fields are read on Linux and Windows only, and stay empty elsewhere rather
// than holding guesses.
var osFacts []osFact
