//go:build windows

package state

import (
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

func protect(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	user, err := unelevatedUser()
	if err != nil {
		return err
	}
	sd, err := windows.SecurityDescriptorFromString(descriptorFor(user))
	if err != nil {
		return fmt.Errorf("parsing the access list: %w", err)
	}
	acl, _, err := sd.DACL()
	if err != nil {
		return fmt.Errorf("reading the access list: %w", err)
	}
	// PROTECTED_DACL_SECURITY_INFORMATION: the directory stops inheriting
	// from ProgramData; its inheritable entries reach what it holds.
	if err := windows.SetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, acl, nil); err != nil {
		return fmt.Errorf("setting the access list of %s: %w", dir, err)
	}
	return check(dir)
}

func check(dir string) error {
	if wineLane {
		return nil // Wine cannot store the DACL: see winelane_on.go
	}
	sd, err := windows.GetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return fmt.Errorf("reading the access list of %s: %w", dir, err)
	}
	allowed := []string{"SY", "BA"}
	user, err := unelevatedUser()
	if err != nil {
		return err
	}
	if user != "" {
		allowed = append(allowed, user)
	}
	if err := checkDACL(sd.String(), allowed...); err != nil {
		return fmt.Errorf("%s: %w; run `peerdesk-agent install` as an administrator to set it", dir, err)
	}
	return nil
}

// unelevatedUser is the running user's SID when the process is not
// elevated, and "" when it is (SYSTEM, an elevated administrator).
func unelevatedUser() (string, error) {
	tok := windows.GetCurrentProcessToken()
	if tok.IsElevated() {
		return "", nil
	}
	u, err := tok.GetTokenUser()
	if err != nil {
		return "", fmt.Errorf("reading the running user: %w", err)
	}
	return u.User.Sid.String(), nil
}
