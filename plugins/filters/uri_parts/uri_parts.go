// Package uri_parts is the filter that splits a URI into the ECS url.*
// fields, as Elasticsearch's uri_parts processor does.
package uri_parts

import (
	_ "embed"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/field"
	"github.com/mdrsflow/mdrsflow/sdk"
)

//go:embed sample.yaml
var sample []byte

func init() {
	sdk.Register(sdk.Registration{
		Kind:    sdk.KindFilter,
		Name:    "uri_parts",
		Summary: "split a URI into url.* fields (scheme, domain, port, path, query, extension, …)",
		New:     func() any { return New() },
		Sample:  sample,
	})
}

// URIParts is the uri_parts filter. Its exported fields are its settings;
// see sample.yaml for what each one means.
type URIParts struct {
	Field              string `yaml:"field"`
	Target             string `yaml:"target"`
	KeepOriginal       bool   `yaml:"keep_original"`
	RemoveIfSuccessful bool   `yaml:"remove_if_successful"`

	field  sdk.Path
	target sdk.Path
	parts  map[string]sdk.Path
}

// New returns the filter with its defaults set.
func New() *URIParts { return &URIParts{Target: "url", KeepOriginal: true} }

var partNames = []string{"original", "scheme", "domain", "port", "path", "extension",
	"query", "fragment", "user_info", "username", "password"}

// Validate parses the references once.
func (u *URIParts) Validate() error {
	var err error
	if u.field, err = field.Parse("field", u.Field); err != nil {
		return err
	}
	if u.target, err = field.Parse("target", u.Target); err != nil {
		return err
	}
	u.parts = make(map[string]sdk.Path, len(partNames))
	for _, n := range partNames {
		if u.parts[n], err = field.Child("target", u.target, n); err != nil {
			return err
		}
	}
	return nil
}

// Apply splits the URI. Text that is not a URI fails the event and
// writes nothing.
func (u *URIParts) Apply(ev *sdk.Event) error {
	v, ok := ev.Get(u.field)
	if !ok || v == nil {
		return nil
	}
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("field %s holds %s, not a URI", u.field, field.Kind(v))
	}
	parts, err := Parse(s)
	if err != nil {
		return fmt.Errorf("field %s: %w", u.field, err)
	}
	if u.KeepOriginal {
		parts["original"] = s
	}
	for _, n := range partNames {
		p, ok := parts[n]
		if !ok {
			continue
		}
		if err := field.Set(ev, u.parts[n], p); err != nil {
			return err
		}
	}
	if u.RemoveIfSuccessful {
		ev.Delete(u.field)
	}
	return nil
}

// Parse splits s the way Elasticsearch's uri_parts processor does, which
// reads it with java.net.URI: s must be a URI by RFC 2396 (no spaces, no
// `"<>\^`{|}`, every % followed by two hex digits); path, query, fragment
// and user info are percent-decoded. An absolute http, https, ftp or file
// URL that breaks those rules is still read, leniently and without
// decoding, as java.net.URL would. The parts are: scheme, domain, port
// (int64), path, extension (of the last path segment), query, fragment,
// user_info, username and password; each only when the URI has it.
func Parse(s string) (map[string]any, error) {
	if strictOK(s) {
		return parseStrict(s)
	}
	if i := strings.IndexByte(s, ':'); i > 0 {
		switch strings.ToLower(s[:i]) {
		case "http", "https", "ftp", "file":
			return parseLenient(s)
		}
	}
	return nil, fmt.Errorf("%s is not a URI", field.Quote(s))
}

func parseStrict(s string) (map[string]any, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%s is not a URI: %w", field.Quote(s), err)
	}
	out := map[string]any{}
	if u.Scheme != "" {
		out["scheme"] = u.Scheme
	}
	if u.Opaque != "" {
		// scheme:opaque (mailto:x, host:443): no path, query or host.
		if u.Fragment != "" {
			out["fragment"] = u.Fragment
		}
		return out, nil
	}
	if err := authority(u, out); err != nil {
		return nil, fmt.Errorf("%s is not a URI: %w", field.Quote(s), err)
	}
	path(u.Path, out)
	if u.RawQuery != "" || u.ForceQuery {
		q, err := url.PathUnescape(u.RawQuery)
		if err != nil {
			q = u.RawQuery
		}
		out["query"] = q
	}
	if u.Fragment != "" || strings.HasSuffix(s, "#") {
		out["fragment"] = u.Fragment
	}
	return out, nil
}

// parseLenient reads an absolute URL that is not a strict URI, keeping
// its parts as written.
func parseLenient(s string) (map[string]any, error) {
	out := map[string]any{}
	i := strings.IndexByte(s, ':')
	out["scheme"] = s[:i]
	rest := s[i+1:]
	if j := strings.IndexByte(rest, '#'); j >= 0 {
		out["fragment"] = rest[j+1:]
		rest = rest[:j]
	}
	if j := strings.IndexByte(rest, '?'); j >= 0 {
		out["query"] = rest[j+1:]
		rest = rest[:j]
	}
	if strings.HasPrefix(rest, "//") {
		rest = rest[2:]
		auth := rest
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			auth, rest = rest[:j], rest[j:]
		} else {
			rest = ""
		}
		u := &url.URL{Host: auth}
		if k := strings.LastIndexByte(auth, '@'); k >= 0 {
			u.Host = auth[k+1:]
			info := auth[:k]
			if name, pass, ok := strings.Cut(info, ":"); ok {
				u.User = url.UserPassword(name, pass)
			} else {
				u.User = url.User(info)
			}
		}
		if err := authority(u, out); err != nil {
			return nil, fmt.Errorf("%s is not a URL: %w", field.Quote(s), err)
		}
	}
	path(rest, out)
	return out, nil
}

func authority(u *url.URL, out map[string]any) error {
	if h := u.Hostname(); h != "" {
		out["domain"] = h
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 65535 {
			return fmt.Errorf("port %q", p)
		}
		out["port"] = int64(n)
	}
	if u.User != nil {
		info := u.User.String()
		if dec, err := url.PathUnescape(info); err == nil {
			info = dec
		}
		out["user_info"] = info
		if name, pass, ok := strings.Cut(info, ":"); ok {
			out["username"] = name
			out["password"] = pass
		}
	}
	return nil
}

func path(p string, out map[string]any) {
	out["path"] = p
	last := p[strings.LastIndexByte(p, '/')+1:]
	if i := strings.LastIndexByte(last, '.'); i >= 0 {
		out["extension"] = last[i+1:]
	}
}

// strictOK reports whether s uses only what RFC 2396 (and so
// java.net.URI) allows: unreserved and reserved characters, escapes of
// two hex digits, one '#', brackets only around an IPv6 host, and any
// non-ASCII character that is not a control or a space.
func strictOK(s string) bool {
	if s == "" {
		return false
	}
	hashes := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 0x80:
			// UTF-8 continuation and lead bytes: "other" characters.
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-_.!~*'();/?:@&=+$,", c) >= 0:
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return false
			}
			i += 2
		case c == '#':
			hashes++
			if hashes > 1 {
				return false
			}
		case c == '[' || c == ']':
			if !strings.Contains(s, "://[") {
				return false
			}
		default:
			return false
		}
	}
	for _, r := range s {
		if r == 0x85 || r == 0xa0 || r >= 0x2000 && r <= 0x200a || r == 0x2028 || r == 0x2029 ||
			r == 0x3000 || r >= 0x7f && r <= 0x9f {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

var (
	_ sdk.Filter    = (*URIParts)(nil)
	_ sdk.Validator = (*URIParts)(nil)
)
