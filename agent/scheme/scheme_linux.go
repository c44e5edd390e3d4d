package scheme

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// systemApplications is where system-wide desktop entries go.
const systemApplications = "/usr/share/applications"

// applicationsDir is the directory of desktop entries for c.
func (c Config) applicationsDir() (string, error) {
	if c.System {
		return systemApplications, nil
	}
	if d := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "applications"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".local", "share", "applications"), nil
}

// Register writes the desktop entry and makes it the peerdesk:// handler;
// it returns the entry's path.
func Register(ctx context.Context, c Config) (string, error) {
	if err := checkExe(c.Exe); err != nil {
		return "", err
	}
	dir, err := c.applicationsDir()
	if err != nil {
		return "", fmt.Errorf("scheme.Register: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("scheme.Register: %w", err)
	}
	path := filepath.Join(dir, DesktopFile)
	tmp, err := os.CreateTemp(dir, "."+DesktopFile+".*")
	if err != nil {
		return "", fmt.Errorf("scheme.Register: %w", err)
	}
	_, werr := tmp.WriteString(desktopEntry(c.Exe))
	err = errors.Join(werr, tmp.Chmod(0o644), tmp.Close())
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		// The temporary file is ours; its removal failing leaves only a
		// hidden file behind, and err already says what went wrong.
		_ = os.Remove(tmp.Name())
		return "", fmt.Errorf("scheme.Register: %w", err)
	}
	var errs []error
	if c.System {
		errs = append(errs, c.run(ctx, "update-desktop-database", dir))
	}
	errs = append(errs, c.run(ctx, "xdg-mime", "default", DesktopFile, "x-scheme-handler/"+Scheme))
	if err := errors.Join(errs...); err != nil {
		return path, fmt.Errorf("scheme.Register: %s is written but: %w", path, err)
	}
	return path, nil
}

// Unregister removes the desktop entry; one that is not there is not an
// error.
func Unregister(ctx context.Context, c Config) error {
	dir, err := c.applicationsDir()
	if err != nil {
		return fmt.Errorf("scheme.Unregister: %w", err)
	}
	if err := os.Remove(filepath.Join(dir, DesktopFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("scheme.Unregister: %w", err)
	}
	if c.System {
		if err := c.run(ctx, "update-desktop-database", dir); err != nil {
			return fmt.Errorf("scheme.Unregister: %w", err)
		}
	}
	return nil
}
