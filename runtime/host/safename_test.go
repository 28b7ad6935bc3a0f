package host

import (
	"path/filepath"
	"strings"
	"testing"
)

// A flow or plugin name becomes one directory under the data directory:
// safeName must never turn it into "", "." or "..", which would point the
// data directory itself or its parent, and it must not let a separator
// through.
func TestSafeNameStaysInsideDataDir(t *testing.T) {
	base := filepath.Join(t.TempDir(), "data")
	for _, tc := range []struct {
		in   string
		want string // "" when only the properties are checked
	}{
		{in: ""},
		{in: "."},
		{in: ".."},
		{in: "..."},
		{in: "a/../b", want: "a_.._b"},
		{in: "../x", want: ".._x"},
		{in: "ok-name_1.2", want: "ok-name_1.2"},
		{in: `a\b c:d`, want: "a_b_c_d"},
	} {
		got := safeName(tc.in)
		switch got {
		case "", ".", "..":
			t.Errorf("safeName(%q) = %q, which names no directory of its own", tc.in, got)
		}
		if tc.want != "" && got != tc.want {
			t.Errorf("safeName(%q) = %q, want %q", tc.in, got, tc.want)
		}
		for _, c := range got {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
				t.Errorf("safeName(%q) = %q keeps %q, outside [A-Za-z0-9_.-]", tc.in, got, c)
			}
		}

		joined := filepath.Join(base, got)
		rel, err := filepath.Rel(base, joined)
		if err != nil {
			t.Errorf("safeName(%q) = %q: %s is not relative to %s: %v", tc.in, got, joined, base, err)
			continue
		}
		if rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) ||
			strings.ContainsRune(rel, filepath.Separator) {
			t.Errorf("safeName(%q) = %q: filepath.Join(%q, it) = %q is not one directory inside the base",
				tc.in, got, base, joined)
		}
		if filepath.Dir(joined) != base {
			t.Errorf("safeName(%q) = %q: parent of %q is %q, want %q", tc.in, got, joined, filepath.Dir(joined), base)
		}
	}
}
