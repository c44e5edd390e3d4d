package scheme

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sys/windows/registry"
)

// classKey is the scheme's key under HKEY_CLASSES_ROOT.
const classKey = Scheme

// Register writes HKEY_CLASSES_ROOT\peerdesk so that peerdesk:// links run
// the agent with the link; it returns the key's name.
func Register(_ context.Context, c Config) (string, error) {
	if err := checkExe(c.Exe); err != nil {
		return "", err
	}
	set := func(path string, values map[string]string) error {
		k, _, err := registry.CreateKey(registry.CLASSES_ROOT, path, registry.SET_VALUE)
		if err != nil {
			return err
		}
		var errs []error
		for name, v := range values {
			errs = append(errs, k.SetStringValue(name, v))
		}
		return errors.Join(append(errs, k.Close())...)
	}
	if err := errors.Join(
		set(classKey, map[string]string{"": "URL:peerdesk Protocol", "URL Protocol": ""}),
		set(classKey+`\DefaultIcon`, map[string]string{"": `"` + c.Exe + `",0`}),
		set(classKey+`\shell\open\command`, map[string]string{"": `"` + c.Exe + `" "%1"`}),
	); err != nil {
		return "", fmt.Errorf("scheme.Register: %w", err)
	}
	return `HKEY_CLASSES_ROOT\` + classKey, nil
}

// Unregister removes HKEY_CLASSES_ROOT\peerdesk; a key that is not there is
// not an error.
func Unregister(_ context.Context, _ Config) error {
	var errs []error
	for _, path := range []string{classKey + `\shell\open\command`, classKey + `\shell\open`, classKey + `\shell`, classKey + `\DefaultIcon`, classKey} {
		if err := registry.DeleteKey(registry.CLASSES_ROOT, path); err != nil && !errors.Is(err, registry.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("scheme.Unregister: %w", err)
	}
	return nil
}
