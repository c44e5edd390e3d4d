//go:build !windows

package files

// openTop opens dir, or "/" for the whole machine.
func openTop(dir string) (top, error) {
	if dir == "" {
		dir = "/"
	}
	return newDirTop(dir)
}
