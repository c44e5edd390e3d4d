package inventory

import "strings"

// maxOSReleaseKeys bounds the variables parseOSRelease keeps.
const maxOSReleaseKeys = 64

// parseOSRelease reads os-release(5) variables: KEY=VALUE lines, values
// optionally in double or single quotes, with backslash escapes inside
// double quotes. Comments, blank lines and lines that are not assignments
// are skipped. Values are bounded; at most maxOSReleaseKeys are kept.
func parseOSRelease(data []byte) map[string]string {
	vars := map[string]string{}
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok || !validOSReleaseKey(key) {
			continue
		}
		val, ok = unquoteOSRelease(val)
		if !ok {
			continue
		}
		if _, seen := vars[key]; !seen && len(vars) == maxOSReleaseKeys {
			continue
		}
		vars[key] = bound(val)
	}
	return vars
}

func validOSReleaseKey(k string) bool {
	if k == "" || len(k) > 64 || k[0] >= '0' && k[0] <= '9' {
		return false
	}
	for _, c := range []byte(k) {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// unquoteOSRelease undoes the shell quoting os-release allows.
func unquoteOSRelease(v string) (string, bool) {
	if v == "" {
		return "", true
	}
	switch q := v[0]; q {
	case '\'':
		if len(v) < 2 || v[len(v)-1] != q || strings.IndexByte(v[1:len(v)-1], q) >= 0 {
			return "", false
		}
		return v[1 : len(v)-1], true
	case '"':
		var b strings.Builder
		for i := 1; i < len(v); i++ {
			switch c := v[i]; {
			case c == '"':
				return b.String(), i == len(v)-1
			case c == '\\' && i+1 < len(v) && strings.IndexByte("\"\\$`", v[i+1]) >= 0:
				i++
				b.WriteByte(v[i])
			default:
				b.WriteByte(c)
			}
		}
		return "", false // unterminated
	}
	if strings.ContainsAny(v, "\"'\\`$ \t") {
		return "", false // shell syntax os-release does not allow unquoted
	}
	return v, true
}

// osBuild is the most precise release string os-release gives: BUILD_ID
// where the distribution sets one (rolling and image-based ones do), else
// VERSION ("12 (bookworm)", "24.04.1 LTS (Noble Numbat)").
func osBuild(vars map[string]string) string {
	if b := vars["BUILD_ID"]; b != "" {
		return b
	}
	return vars["VERSION"]
}
