package inventory

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/shirou/gopsutil/v4/disk"

	"github.com/peerdesk/peerdesk/wire"
)

// disks returns the real file systems with their sizes. A file system whose
// usage cannot be read is kept with zero sizes and logged.
func (c *Collector) disks(ctx context.Context) ([]wire.Disk, error) {
	parts, err := disk.PartitionsWithContext(ctx, false)
	if err != nil {
		return nil, err
	}
	var out []wire.Disk
	for _, p := range realPartitions(parts) {
		d := wire.Disk{Mount: bound(p.Mountpoint), FSType: bound(p.Fstype)}
		if u, err := disk.UsageWithContext(ctx, p.Mountpoint); err != nil {
			c.log.Warn("inventory: disk usage unreadable", "mount", d.Mount, "err", err)
		} else {
			d.TotalBytes, d.FreeBytes = u.Total, u.Free
		}
		out = append(out, d)
	}
	return out, nil
}

// realPartitions keeps the real file systems of parts, one per mount point,
// sorted by mount point and at most maxDisks of them. When a mount point is
// mounted over, the last (visible) mount wins.
func realPartitions(parts []disk.PartitionStat) []disk.PartitionStat {
	byMount := make(map[string]disk.PartitionStat)
	for _, p := range parts {
		if p.Mountpoint != "" && realFS(p.Fstype) {
			byMount[p.Mountpoint] = p
		}
	}
	out := make([]disk.PartitionStat, 0, len(byMount))
	for _, p := range byMount {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b disk.PartitionStat) int { return cmp.Compare(a.Mountpoint, b.Mountpoint) })
	if len(out) > maxDisks {
		out = out[:maxDisks]
	}
	return out
}

// pseudoFS lists file system types that hold no user data (kernel, device,
// container plumbing) or live on another machine (statfs on a dead network
// mount can hang). overlay is deliberately absent: it is a container's root.
var pseudoFS = map[string]bool{
	// Linux
	"autofs": true, "binfmt_misc": true, "bpf": true, "configfs": true,
	"debugfs": true, "devpts": true, "devtmpfs": true, "efivarfs": true,
	"fusectl": true, "hugetlbfs": true, "mqueue": true, "nsfs": true,
	"proc": true, "pstore": true, "ramfs": true, "rpc_pipefs": true,
	"securityfs": true, "selinuxfs": true, "squashfs": true, "sysfs": true,
	"tmpfs": true, "tracefs": true,
	// BSD and macOS
	"devfs": true, "fdescfs": true, "linprocfs": true, "linsysfs": true,
	"nullfs": true, "procfs": true,
	// network
	"afpfs": true, "cifs": true, "nfs": true, "nfs4": true, "smb3": true,
	"smbfs": true, "sshfs": true, "webdav": true,
}

// realFS reports whether a file system of type fstype belongs in the
// inventory.
func realFS(fstype string) bool {
	t := strings.ToLower(fstype)
	switch {
	case t == "", t == "none":
		return false
	case strings.HasPrefix(t, "cgroup"), strings.HasPrefix(t, "fuse."):
		// cgroup, cgroup2; FUSE subtypes are user-space views (gvfs, lxcfs,
		// sshfs, portals). Block-device FUSE mounts report "fuseblk".
		return false
	}
	return !pseudoFS[t]
}
