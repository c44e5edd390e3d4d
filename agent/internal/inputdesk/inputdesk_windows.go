//go:build windows

// Package inputdesk runs a function on the desktop that receives input
// now: the user's (Default), the logon screen's or UAC's secure desktop
// (Winlogon). A thread stays on the desktop it started on, so a helper
// that captured and injected on Default would see nothing (BitBlt fails,
// SendInput is dropped) while a UAC prompt or the logon screen is up.
// Opening Winlogon takes SYSTEM, which the service's screen helper is
// (agent/sessionhelper); elsewhere the switch fails and f runs where the
// thread is.
package inputdesk

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	user32                       = windows.NewLazySystemDLL("user32.dll")
	procOpenInputDesktop         = user32.NewProc("OpenInputDesktop")
	procGetThreadDesktop         = user32.NewProc("GetThreadDesktop")
	procSetThreadDesktop         = user32.NewProc("SetThreadDesktop")
	procCloseDesktop             = user32.NewProc("CloseDesktop")
	procGetUserObjectInformation = user32.NewProc("GetUserObjectInformationW")
)

// Desktop access rights (winuser.h): what capture (read objects, for
// the screen DC) and SendInput (journal playback) need.
const (
	desktopReadObjects     = 0x0001
	desktopCreateWindow    = 0x0002
	desktopWriteObjects    = 0x0080
	desktopJournalPlayback = 0x0020
	desktopSwitchDesktop   = 0x0100
	uoiName                = 2
)

// Run runs f on a locked OS thread switched to the input desktop, and
// switches the thread back afterwards. If the input desktop cannot be
// opened or entered (no access: not SYSTEM on the secure desktop), f runs
// on the thread's own desktop, as before.
func Run(f func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	own, _, _ := procGetThreadDesktop.Call(uintptr(windows.GetCurrentThreadId()))
	h, _, _ := procOpenInputDesktop.Call(0, 0, desktopReadObjects|desktopCreateWindow|desktopWriteObjects|desktopJournalPlayback|desktopSwitchDesktop)
	if h == 0 {
		return f()
	}
	defer procCloseDesktop.Call(h) //nolint:errcheck // a handle just opened
	if r, _, _ := procSetThreadDesktop.Call(h); r == 0 {
		return f()
	}
	defer procSetThreadDesktop.Call(own) //nolint:errcheck // back to where the thread was
	return f()
}

// Name returns the name of the calling thread's desktop ("Default",
// "Winlogon"), for tests and logs.
func Name() (string, error) {
	h, _, err := procGetThreadDesktop.Call(uintptr(windows.GetCurrentThreadId()))
	if h == 0 {
		return "", err
	}
	var buf [64]uint16
	var n uint32
	if r, _, err := procGetUserObjectInformation.Call(h, uoiName, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)*2), uintptr(unsafe.Pointer(&n))); r == 0 {
		return "", err
	}
	return windows.UTF16ToString(buf[:]), nil
}
