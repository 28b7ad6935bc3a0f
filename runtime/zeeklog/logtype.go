package zeeklog

import (
	"path/filepath"
	"strings"
)

// LogType returns the Zeek log type named by a log file's name, or "" when
// the name does not look like one. It drops the directories, a ".gz"
// suffix and everything from the first dot on (".log", Zeek's rotation
// timestamp ".2024-04-19-10-00-00", a suffix such as ".rita-lab", a
// logrotate ".1"), and a "_YYYYMMDD..." or "_YYYY-MM-DD..." date suffix as
// some exporters write it:
//
//	conn.log                           conn
//	/var/log/zeek/current/dns.log      dns
//	conn.2024-04-19-10-00-00.log.gz    conn
//	conn.rita-lab.log                  conn
//	known_hosts_20240419_10:00:00.log  known_hosts
//	stdin, -, .hidden, 2024-04-19.log  ""
func LogType(name string) string {
	base := filepath.Base(strings.ReplaceAll(name, `\`, "/"))
	base = strings.TrimSuffix(base, ".gz")
	if i := strings.IndexByte(base, '.'); i >= 0 {
		base = base[:i]
	}
	base = stripDate(base)
	if !validLogType(base) || base == "stdin" {
		return "" // stdin names a stream, not a log
	}
	return base
}

// stripDate cuts a "_YYYYMMDD" or "_YYYY-MM-DD" suffix and what follows.
func stripDate(s string) string {
	for i := 1; i < len(s); i++ {
		if s[i] != '_' && s[i] != '-' {
			continue
		}
		rest := s[i+1:]
		if len(rest) >= 8 && allDigits([]byte(rest[:8])) {
			return s[:i]
		}
		if len(rest) >= 10 && allDigits([]byte(rest[:4])) && rest[4] == '-' &&
			allDigits([]byte(rest[5:7])) && rest[7] == '-' && allDigits([]byte(rest[8:10])) {
			return s[:i]
		}
	}
	return s
}

// validLogType reports whether s can be a Zeek log path: a letter, then
// letters, digits, '_' or '-'.
func validLogType(s string) bool {
	if s == "" || !isLetter(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isLetter(c) && (c < '0' || c > '9') && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
