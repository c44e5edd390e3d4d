package scheme

import "strings"

// DesktopFile is the name of the Linux desktop entry.
const DesktopFile = "peerdesk-agent.desktop"

// desktopEntry is the desktop entry that opens peerdesk:// links with exe,
// which checkExe accepted.
func desktopEntry(exe string) string {
	return "[Desktop Entry]\n" +
		"Type=Application\n" +
		"Name=peerdesk agent\n" +
		"Comment=Opens peerdesk support links with the installed agent\n" +
		"Exec=" + execArg(exe) + " %u\n" +
		"Terminal=false\n" +
		"NoDisplay=true\n" +
		"MimeType=x-scheme-handler/" + Scheme + ";\n"
}

// execArg quotes a path as one argument of a desktop entry's Exec key: in
// double quotes, with ", `, $ and \ escaped by the quoting rule and that
// rule's backslashes escaped again by the string rule (so a literal
// backslash is four), and % doubled as the field-code rule asks.
func execArg(path string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range path {
		switch r {
		case '\\':
			b.WriteString(`\\\\`)
		case '"', '`', '$':
			b.WriteString(`\\`)
			b.WriteRune(r)
		case '%':
			b.WriteString("%%")
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
