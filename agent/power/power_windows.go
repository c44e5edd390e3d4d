package power

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/windows/registry"
)

// NewRunner returns the runner for this OS: commands run with exec,
// registry changes through the registry API.
func NewRunner() Runner { return winRunner{} }

type winRunner struct{}

func (winRunner) Run(ctx context.Context, argv []string) error { return runCommand(ctx, argv) }

// splitKey turns HKLM\path into the root key and the path.
func splitKey(key string) (registry.Key, string, error) {
	root, path, ok := strings.Cut(key, `\`)
	if !ok || path == "" {
		return 0, "", fmt.Errorf("power: registry key %q has no path", key)
	}
	switch strings.ToUpper(root) {
	case "HKLM", "HKEY_LOCAL_MACHINE":
		return registry.LOCAL_MACHINE, path, nil
	}
	return 0, "", fmt.Errorf("power: registry root %q is not HKLM", root)
}

func (winRunner) Registry(_ context.Context, c RegChange) error {
	root, path, err := splitKey(c.Key)
	if err != nil {
		return err
	}
	switch {
	case c.Delete && c.Name == "":
		return registry.DeleteKey(root, path)
	case c.Delete:
		k, err := registry.OpenKey(root, path, registry.SET_VALUE)
		if err != nil {
			return err
		}
		defer k.Close()
		return k.DeleteValue(c.Name)
	}
	k, _, err := registry.CreateKey(root, path, registry.SET_VALUE)
	if err != nil {
		return err
	}
	defer k.Close()
	return k.SetStringValue(c.Name, c.Value)
}

func (winRunner) RegistryValueExists(key, name string) (bool, error) {
	root, path, err := splitKey(key)
	if err != nil {
		return false, err
	}
	k, err := registry.OpenKey(root, path, registry.QUERY_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer k.Close()
	_, _, err = k.GetValue(name, nil)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, registry.ErrNotExist):
		return false, nil
	}
	return false, err
}
