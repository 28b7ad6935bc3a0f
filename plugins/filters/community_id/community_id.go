// Package communityid is the community_id filter: it computes the
// Community ID v1 flow hash (https://github.com/corelight/community-id-spec),
// the identifier that lets an analyst pivot from a Zeek connection to the
// Suricata alert or firewall log of the same flow.
//
// The package name has no underscore, as Go package names do not; the
// plugin and its directory are named community_id, as flows spell it.
package communityid

import (
	"bytes"
	"crypto/sha1"
	_ "embed"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/netip"
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
		Name:    "community_id",
		Summary: "compute the Community ID v1 flow hash",
		New:     func() any { return New() },
		Sample:  sample,
	})
}

// CommunityID is the community_id filter. Its exported fields are its
// settings; see sample.yaml for what each one means.
type CommunityID struct {
	SourceIP        string `yaml:"source_ip"`
	SourcePort      string `yaml:"source_port"`
	DestinationIP   string `yaml:"destination_ip"`
	DestinationPort string `yaml:"destination_port"`
	Transport       string `yaml:"transport"`
	Target          string `yaml:"target"`
	Seed            int    `yaml:"seed"`
	Overwrite       bool   `yaml:"overwrite"`

	srcIP, srcPort, dstIP, dstPort, transport, target sdk.Path
}

// New returns the filter with its defaults set: the ECS fields.
func New() *CommunityID {
	return &CommunityID{
		SourceIP:        "source.ip",
		SourcePort:      "source.port",
		DestinationIP:   "destination.ip",
		DestinationPort: "destination.port",
		Transport:       "network.transport",
		Target:          "network.community_id",
	}
}

// Validate parses the references and checks the seed, once.
func (c *CommunityID) Validate() error {
	for _, r := range []struct {
		name string
		text string
		dst  *sdk.Path
	}{
		{"source_ip", c.SourceIP, &c.srcIP},
		{"source_port", c.SourcePort, &c.srcPort},
		{"destination_ip", c.DestinationIP, &c.dstIP},
		{"destination_port", c.DestinationPort, &c.dstPort},
		{"transport", c.Transport, &c.transport},
		{"target", c.Target, &c.target},
	} {
		p, err := field.Parse(r.name, r.text)
		if err != nil {
			return err
		}
		*r.dst = p
	}
	if c.Seed < 0 || c.Seed > 65535 {
		return fmt.Errorf("seed: %d is outside 0-65535 (the spec hashes it as two bytes)", c.Seed)
	}
	return nil
}

// IANA protocol numbers the spec treats specially.
const (
	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58
	protoSCTP   = 132
)

// transports maps the names sensors write to protocol numbers.
var transports = map[string]uint8{
	"icmp": protoICMP, "tcp": protoTCP, "udp": protoUDP,
	"icmp6": protoICMPv6, "icmpv6": protoICMPv6, "ipv6-icmp": protoICMPv6, "sctp": protoSCTP,
}

// Apply computes the ID and writes it to the target. Nothing is written
// when an input is missing or the transport is unknown; an address or
// port that is present but unreadable fails the event.
func (c *CommunityID) Apply(ev *sdk.Event) error {
	if !c.Overwrite {
		if v, ok := ev.Get(c.target); ok && v != nil && v != "" {
			return nil
		}
	}

	proto, ok := c.proto(ev)
	if !ok {
		return nil
	}
	src, ok, err := c.addr(ev, c.srcIP)
	if !ok || err != nil {
		return err
	}
	dst, ok, err := c.addr(ev, c.dstIP)
	if !ok || err != nil {
		return err
	}
	if src.Is4() != dst.Is4() {
		return fmt.Errorf("cannot compute the community id: %s is %s but %s is %s; "+
			"both ends of a flow have the same IP version", c.srcIP, version(src), c.dstIP, version(dst))
	}
	// Zeek writes "icmp" for ICMPv6 flows too.
	if proto == protoICMP && src.Is6() {
		proto = protoICMPv6
	}

	var sport, dport uint16
	hasPorts := proto == protoTCP || proto == protoUDP || proto == protoSCTP ||
		proto == protoICMP || proto == protoICMPv6
	if hasPorts {
		if sport, ok, err = c.port(ev, c.srcPort); !ok || err != nil {
			return err
		}
		if dport, ok, err = c.port(ev, c.dstPort); !ok || err != nil {
			return err
		}
	}

	id := Compute(uint16(c.Seed), src, dst, proto, sport, dport, hasPorts)
	return field.Set(ev, c.target, id)
}

// Compute returns the Community ID v1 of a flow. For ICMP and ICMPv6,
// sport and dport are the message type and code, which it maps as the
// spec does; hasPorts is false for protocols without ports, whose hash
// leaves them out.
func Compute(seed uint16, src, dst netip.Addr, proto uint8, sport, dport uint16, hasPorts bool) string {
	oneWay := false
	switch proto {
	case protoICMP:
		sport, dport, oneWay = icmpPorts(icmpPeer, sport, dport)
	case protoICMPv6:
		sport, dport, oneWay = icmpPorts(icmp6Peer, sport, dport)
	}

	sb, db := src.AsSlice(), dst.AsSlice()
	// Order the endpoints so the smaller address (then port) comes first,
	// making both directions of a flow hash alike.
	if !oneWay {
		if cmp := bytes.Compare(sb, db); cmp > 0 || cmp == 0 && sport > dport {
			sb, db = db, sb
			sport, dport = dport, sport
		}
	}

	var buf [2 + 16 + 16 + 2 + 4]byte
	b := binary.BigEndian.AppendUint16(buf[:0], seed)
	b = append(b, sb...)
	b = append(b, db...)
	b = append(b, proto, 0)
	if hasPorts {
		b = binary.BigEndian.AppendUint16(b, sport)
		b = binary.BigEndian.AppendUint16(b, dport)
	}
	sum := sha1.Sum(b)
	var out [2 + 28]byte
	copy(out[:], "1:")
	base64.StdEncoding.Encode(out[2:], sum[:])
	return string(out[:])
}

// icmpPeer and icmp6Peer pair the ICMP message types of a request and its
// reply, as Zeek does; a type with a peer is a two-way exchange.
var (
	icmpPeer = map[uint16]uint16{
		8: 0, 0: 8, // echo
		13: 14, 14: 13, // timestamp
		15: 16, 16: 15, // information
		10: 9, 9: 10, // router solicitation, advertisement
		17: 18, 18: 17, // address mask
	}
	icmp6Peer = map[uint16]uint16{
		128: 129, 129: 128, // echo
		130: 131, 131: 130, // multicast listener query, report
		133: 134, 134: 133, // router solicitation, advertisement
		135: 136, 136: 135, // neighbor solicitation, advertisement
		139: 140, 140: 139, // node information query, response
		144: 145, 145: 144, // home agent address discovery
	}
)

// icmpPorts maps an ICMP type and code to the spec's port equivalents:
// for a two-way type, the type and its peer's type; else type and code,
// and the flow is one-way (its endpoints are never swapped).
func icmpPorts(peers map[uint16]uint16, typ, code uint16) (sport, dport uint16, oneWay bool) {
	if peer, ok := peers[typ]; ok {
		return typ, peer, false
	}
	return typ, code, true
}

// proto reads the transport as a name or an IANA number.
func (c *CommunityID) proto(ev *sdk.Event) (uint8, bool) {
	v, ok := ev.Get(c.transport)
	if !ok {
		return 0, false
	}
	switch t := v.(type) {
	case string:
		if n, ok := transports[strings.ToLower(t)]; ok {
			return n, true
		}
		n, err := strconv.ParseUint(t, 10, 8)
		return uint8(n), err == nil
	case int64:
		return uint8(t), t >= 0 && t <= 255
	case float64:
		return uint8(t), t >= 0 && t <= 255 && t == float64(uint8(t))
	}
	return 0, false
}

func (c *CommunityID) addr(ev *sdk.Event, p sdk.Path) (netip.Addr, bool, error) {
	v, ok := ev.Get(p)
	if !ok || v == nil || v == "" {
		return netip.Addr{}, false, nil
	}
	s, _ := v.(string)
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return a, false, fmt.Errorf("cannot compute the community id: "+
			"field %s holds %s, which is not an IP address; "+
			"fix the value at the source, or set on_error: tag on this step", p, field.Quote(v))
	}
	return a, true, nil
}

func (c *CommunityID) port(ev *sdk.Event, p sdk.Path) (uint16, bool, error) {
	v, ok := ev.Get(p)
	if !ok || v == nil {
		return 0, false, nil
	}
	var n int64 = -1
	switch t := v.(type) {
	case int64:
		n = t
	case float64:
		if t == float64(int64(t)) {
			n = int64(t)
		}
	case string:
		if i, err := strconv.ParseInt(t, 10, 64); err == nil {
			n = i
		}
	}
	if n < 0 || n > 65535 {
		return 0, false, fmt.Errorf("cannot compute the community id: field %s holds %s, which is not a port "+
			"(0-65535); fix the value at the source, or set on_error: tag on this step", p, field.Quote(v))
	}
	return uint16(n), true, nil
}

func version(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}

var (
	_ sdk.Filter    = (*CommunityID)(nil)
	_ sdk.Validator = (*CommunityID)(nil)
)
