package inventory

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/shirou/gopsutil/v4/host"
)

// machineIDPrefix separates peerdesk's hash of the OS machine id from any
// other hash of the same id.
const machineIDPrefix = "peerdesk-machine-id:"

// ErrNoMachineID is returned by MachineID when the OS offers no stable
// machine identifier.
var ErrNoMachineID = errors.New("inventory: no stable machine id")

// MachineID returns a stable, non-reversible identifier of this machine for
// enrollment: hex SHA-256 of ("peerdesk-machine-id:" + the OS machine id from
// gopsutil host.HostIDWithContext). It returns an error wrapping
// ErrNoMachineID if the OS gives none, or gives only one that changes on
// every boot.
func MachineID(ctx context.Context) (string, error) {
	id, err := host.HostIDWithContext(ctx)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoMachineID, err)
	}
	if strings.TrimSpace(id) == "" {
		return "", ErrNoMachineID
	}
	if volatileHostID(id) {
		return "", fmt.Errorf("%w: the OS offers only the per-boot id", ErrNoMachineID)
	}
	sum := sha256.Sum256([]byte(machineIDPrefix + id))
	return hex.EncodeToString(sum[:]), nil
}
