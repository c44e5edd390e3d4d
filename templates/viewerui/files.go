package viewerui

// Files is a machine's files page: one folder.
type Files struct {
	Device    string
	Path      string      // the folder shown, cleaned ("/" is the top)
	Crumbs    [][2]string // path, name of each folder from the top
	Entries   []FileEntry
	Truncated bool
	CSRF      string
	Config    string // JSON for the page's script
	Error     string
	// Confirm: the page was reached from another site; nothing is read
	// from the machine until the technician clicks through.
	Confirm bool
}

// FileEntry is one row of the listing.
type FileEntry struct {
	Name, Path     string // Path: where a click leads (a folder, or the file itself)
	IsDir, IsLink  bool
	Target         string
	Mode, Modified string
	Size           int64
}
