package viewerui

// ShellView is a machine's shell page.
type ShellView struct {
	Title  string // host name
	Device string
	Config string // JSON for the page's script: device, shell
}
