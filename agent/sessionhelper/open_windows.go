//go:build windows

package sessionhelper

import (
	"fmt"
	"path/filepath"

	"golang.org/x/sys/windows"
)

// OpenForUser opens url in the browser of the user logged on at the
// console, as that user (the service in session 0 has no desktop to open
// it on): the shell's URL handler, launched with [Launch] as [AsUser].
func OpenForUser(url string) error {
	snap, err := Sessions()
	if err != nil {
		return err
	}
	w, err := UserAtConsole(snap)
	if err != nil {
		return fmt.Errorf("sessionhelper.OpenForUser: %w", err)
	}
	sys, err := windows.GetSystemDirectory()
	if err != nil {
		return fmt.Errorf("sessionhelper.OpenForUser: %w", err)
	}
	p, err := Launch(w, filepath.Join(sys, "rundll32.exe"), "url.dll,FileProtocolHandler", url)
	if err != nil {
		return err
	}
	go func() {
		p.Wait() //nolint:errcheck // the opener exits on its own
		p.Close()
	}()
	return nil
}
