package shell

import (
	"strings"
	"unicode/utf8"
)

// MaxLine is the most of one typed line the audit record keeps.
const MaxLine = 512

// lines rebuilds, from the bytes a technician types, the lines they submit
// with Enter, for the audit trail. It is what was typed, not a parse of the
// shell: backspace, ^W, ^U and ^C edit or clear the line; escape sequences
// (arrow keys, history recall, bracketed-paste markers, and the terminal's
// own answers to a program's queries, such as its colours) and other
// control characters are dropped, so a line recalled from history and run shows as
// what was typed on it, and a completion the shell filled in with Tab is not
// there.
type lines struct {
	buf       []byte
	truncated bool
	esc       int  // 0: none; 1: after ESC; 2: in a CSI/SS3 sequence; 3: in a string (OSC, DCS…); 4: ESC in a string
	cr        bool // the last byte was CR (a CR LF pair is one Enter)
}

// feed takes typed bytes and calls emit for each line submitted, with
// whether it was cut at MaxLine. Empty lines are not emitted.
func (l *lines) feed(p []byte, emit func(line string, truncated bool)) {
	for _, c := range p {
		cr := l.cr
		l.cr = false
		switch l.esc {
		case 1:
			l.esc = 0
			switch c {
			case '[', 'O':
				l.esc = 2
			case ']', 'P', '_', '^', 'X': // OSC, DCS, APC, PM, SOS: a string up to BEL or ESC \
				l.esc = 3
			}
			continue
		case 2:
			if c >= 0x40 && c <= 0x7e {
				l.esc = 0
			}
			continue
		case 3:
			switch c {
			case 0x07:
				l.esc = 0
			case 0x1b:
				l.esc = 4
			}
			continue
		case 4:
			l.esc = 3
			if c == '\\' {
				l.esc = 0
			}
			continue
		}
		switch {
		case c == 0x1b:
			l.esc = 1
		case c == '\r' || c == '\n':
			if c == '\n' && cr {
				continue
			}
			l.cr = c == '\r'
			line := strings.ToValidUTF8(strings.TrimSpace(string(l.buf)), "\uFFFD")
			if line != "" {
				emit(line, l.truncated)
			}
			l.buf, l.truncated = l.buf[:0], false
		case c == 0x7f || c == 0x08: // backspace: one character
			if len(l.buf) > 0 {
				_, n := utf8.DecodeLastRune(l.buf)
				l.buf = l.buf[:len(l.buf)-n]
			}
		case c == 0x17: // ^W: the last word
			s := strings.TrimRight(string(l.buf), " ")
			l.buf = l.buf[:strings.LastIndex(s, " ")+1]
		case c == 0x15 || c == 0x03: // ^U, ^C: the whole line
			l.buf, l.truncated = l.buf[:0], false
		case c < 0x20:
			if c == '\t' {
				l.add(' ')
			}
		default:
			l.add(c)
		}
	}
}

func (l *lines) add(c byte) {
	if len(l.buf) >= MaxLine {
		l.truncated = true
		return
	}
	l.buf = append(l.buf, c)
}
