package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// trimExecutable asks the kernel to reclaim the resident pages of the
// executable's read-only mappings (code, read-only data): madvise
// MADV_PAGEOUT (Linux 5.4). The pages are clean file pages, mapped by this
// process alone; the kernel drops them, and any that are used again fault
// back in from the page cache or the file. Writable mappings (data, heap)
// are left alone.

func trimExecutable() error {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return fmt.Errorf("trim: %w", err)
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return fmt.Errorf("trim: %w", err)
	}
	ranges, err := readOnlyMappings(maps, exe)
	if err != nil {
		return err
	}
	if len(ranges) == 0 {
		return errors.New("trim: the executable has no read-only mapping in /proc/self/maps")
	}
	// The kernel reclaims clean pages only: a binary installed or built
	// moments ago can still have dirty ones in the page cache. Writing
	// them back costs nothing once they are clean.
	f, err := os.Open("/proc/self/exe") // the running file, even once replaced
	if err != nil {
		return fmt.Errorf("trim: %w", err)
	}
	err = f.Sync()
	f.Close()
	if err != nil {
		return fmt.Errorf("trim: writing back %s: %w", exe, err)
	}
	var errs []error
	for _, r := range ranges {
		if _, _, e := unix.Syscall(unix.SYS_MADVISE, r[0], r[1]-r[0], unix.MADV_PAGEOUT); e != 0 {
			errs = append(errs, fmt.Errorf("trim: madvise %#x-%#x: %w", r[0], r[1], e))
		}
	}
	return errors.Join(errs...)
}

// readOnlyMappings parses /proc/self/maps for the address ranges of path's
// mappings that are not writable.
func readOnlyMappings(maps []byte, path string) ([][2]uintptr, error) {
	var out [][2]uintptr
	sc := bufio.NewScanner(bytes.NewReader(maps))
	for sc.Scan() {
		// start-end perms offset dev inode path
		f := strings.Fields(sc.Text())
		if len(f) < 6 || strings.Join(f[5:], " ") != path || len(f[1]) < 2 || f[1][1] == 'w' {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if !ok || err1 != nil || err2 != nil || end <= start {
			return nil, fmt.Errorf("trim: unreadable mapping %q", f[0])
		}
		out = append(out, [2]uintptr{uintptr(start), uintptr(end)})
	}
	return out, sc.Err()
}
