package state

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// StateDirSDDL is the access list a state directory gets on Windows (H2), in
// SDDL: protected (P: nothing inherited from ProgramData, whose default lets
// every user read), with full control for SYSTEM (SY) and the Administrators
// group (BA), inherited by everything created inside (OICI) — the device
// secret, the node's keys, the audit file. No other principal has an entry,
// so no one else may read, list or change anything in it.
//
// An agent that is not elevated (enrolled by a user, in that user's profile)
// also keeps full control for its own user: see descriptorFor.
const StateDirSDDL = "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"

// ErrNotPrivate means the state directory (or the state file) can be reached
// by someone other than the agent's own account and the machine's
// administrators. Load refuses to start an agent on it.
var ErrNotPrivate = errors.New("state: the state directory is not private to the agent")

// Protect creates dir if needed and makes it private to the agent: on Linux
// and macOS mode 0700 (the state file is written 0600), owned by the running
// user; on Windows the protected access list StateDirSDDL (plus the running
// user when not elevated). Enroll (through Save) and the service install call
// it. It returns ErrNotPrivate when dir cannot be made private, such as a
// directory another user owns.
func Protect(dir string) error {
	if err := protect(dir); err != nil {
		return fmt.Errorf("state.Protect: %w", err)
	}
	return nil
}

// Check returns an error wrapping ErrNotPrivate when dir, or the state file
// in it, can be reached by others: on Linux and macOS a directory not owned
// by the running user or open to its group or the world, or such a state
// file; on Windows an access list that inherits from its parent or lets any
// principal in but SYSTEM, Administrators and (when not elevated) the running
// user. Load calls it, so an agent refuses to start on an exposed state.
func Check(dir string) error {
	if err := check(dir); err != nil {
		return fmt.Errorf("state.Check: %w", err)
	}
	return nil
}

// descriptorFor is the access list for a state directory: StateDirSDDL for an
// elevated agent (userSID empty), and with full control for userSID as well
// for an agent running as that user without elevation, which would otherwise
// lock itself out of its own state.
func descriptorFor(userSID string) string {
	if userSID == "" {
		return StateDirSDDL
	}
	return StateDirSDDL + "(A;OICI;FA;;;" + userSID + ")"
}

// An ace is one access control entry of an SDDL string.
type ace struct {
	Type, Flags, Rights, ObjectGUID, InheritGUID, Trustee string
}

// dacl is the DACL part of a security descriptor in SDDL.
type dacl struct {
	Flags string // P (protected), AI, AR, NO_ACCESS_CONTROL …
	ACEs  []ace
}

// parseDACL reads the DACL ("D:" section) of a security descriptor in SDDL
// (owner, group and SACL sections are skipped). It is strict: a DACL it
// cannot read fully is an error, never a partial answer.
func parseDACL(sddl string) (dacl, error) {
	var d dacl
	found := false
	for rest := sddl; rest != ""; {
		if len(rest) < 2 || rest[1] != ':' {
			return dacl{}, fmt.Errorf("SDDL %q: expected a section (O:, G:, D: or S:) at %q", sddl, rest)
		}
		tag := rest[0]
		rest = rest[2:]
		end := nextSection(rest)
		body := rest[:end]
		rest = rest[end:]
		switch tag {
		case 'O', 'G':
			if body == "" {
				return dacl{}, fmt.Errorf("SDDL %q: empty %c: section", sddl, tag)
			}
		case 'D', 'S':
			flags, aces, err := parseACL(body)
			if err != nil {
				return dacl{}, fmt.Errorf("SDDL %q: %c: %w", sddl, tag, err)
			}
			if tag == 'D' {
				if found {
					return dacl{}, fmt.Errorf("SDDL %q: two D: sections", sddl)
				}
				found = true
				d = dacl{Flags: flags, ACEs: aces}
			}
		default:
			return dacl{}, fmt.Errorf("SDDL %q: unknown section %c:", sddl, tag)
		}
	}
	if !found {
		return dacl{}, fmt.Errorf("SDDL %q: no DACL (D:)", sddl)
	}
	return d, nil
}

// nextSection is the index in s of the next section tag outside parentheses,
// or len(s).
func nextSection(s string) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '(':
			depth++
		case c == ')':
			depth--
		case depth == 0 && i+1 < len(s) && s[i+1] == ':' && strings.IndexByte("OGDS", c) >= 0:
			return i
		}
	}
	return len(s)
}

// parseACL reads "flags(ace)(ace)…".
func parseACL(s string) (string, []ace, error) {
	i := strings.IndexByte(s, '(')
	if i < 0 {
		i = len(s)
	}
	flags := s[:i]
	for f := flags; f != ""; {
		switch {
		case strings.HasPrefix(f, "NO_ACCESS_CONTROL"):
			f = f[len("NO_ACCESS_CONTROL"):]
		case f[0] == 'P':
			f = f[1:]
		case strings.HasPrefix(f, "AI"), strings.HasPrefix(f, "AR"):
			f = f[2:]
		default:
			return "", nil, fmt.Errorf("unknown ACL flags %q", flags)
		}
	}
	var aces []ace
	for rest := s[i:]; rest != ""; {
		if rest[0] != '(' {
			return "", nil, fmt.Errorf("expected '(' at %q", rest)
		}
		end := strings.IndexByte(rest, ')')
		if end < 0 {
			return "", nil, fmt.Errorf("unterminated ACE %q", rest)
		}
		fields := strings.Split(rest[1:end], ";")
		if len(fields) != 6 {
			return "", nil, fmt.Errorf("ACE (%s): %d fields, want 6", rest[1:end], len(fields))
		}
		if fields[0] == "" || fields[5] == "" {
			return "", nil, fmt.Errorf("ACE (%s): no type or no trustee", rest[1:end])
		}
		aces = append(aces, ace{fields[0], fields[1], fields[2], fields[3], fields[4], fields[5]})
		rest = rest[end+1:]
	}
	return flags, aces, nil
}

// checkDACL returns an error wrapping ErrNotPrivate unless sddl's DACL is
// protected and every entry in it allows (and only allows) one of the
// trustees in allowed (SDDL aliases such as SY and BA, or SID strings).
// A missing or empty trustee list, a NULL DACL (NO_ACCESS_CONTROL) and deny
// entries are refused too: the answer must not depend on entry order.
func checkDACL(sddl string, allowed ...string) error {
	d, err := parseDACL(sddl)
	if err != nil {
		return err
	}
	if strings.Contains(d.Flags, "NO_ACCESS_CONTROL") {
		return fmt.Errorf("%w: the access list is NULL (everyone has full control)", ErrNotPrivate)
	}
	if !strings.Contains(strings.ReplaceAll(d.Flags, "NO_ACCESS_CONTROL", ""), "P") {
		return fmt.Errorf("%w: the access list is not protected, so it inherits its parent's entries (%s)", ErrNotPrivate, sddl)
	}
	if len(d.ACEs) == 0 {
		return fmt.Errorf("%w: the access list is empty (%s)", ErrNotPrivate, sddl)
	}
	for _, a := range d.ACEs {
		if a.Type != "A" {
			return fmt.Errorf("%w: entry type %q for %s (only allow entries are expected) in %s", ErrNotPrivate, a.Type, a.Trustee, sddl)
		}
		if !slices.Contains(allowed, a.Trustee) {
			return fmt.Errorf("%w: %s has an entry in %s (only %s may)", ErrNotPrivate, a.Trustee, sddl, strings.Join(allowed, ", "))
		}
	}
	return nil
}
