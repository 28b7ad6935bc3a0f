package communityid

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/filtertest"
	"github.com/mdrsflow/mdrsflow/runtime/event"
	"github.com/mdrsflow/mdrsflow/sdk"
)

// baseline is corelight/community-id-spec baseline/baseline_deflt.json
// (seed 0) and baseline_seed1.json (seed 1): for ICMP the ports there are
// the type and the mapped "counter-type" or code.
var baseline = []struct {
	proto        uint8
	saddr, daddr string
	sport, dport uint16
	ports        bool
	seed0, seed1 string
}{
	{58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 135, 136, true, "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=", "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY="},
	{58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 136, 135, true, "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=", "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY="},
	{58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 135, 136, true, "1:zavyT/cezQr1fmImYCwYnMXbgck=", "1:2hSqmsDZ2kdcY9kbiUzOEBic0iM="},
	{58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 136, 135, true, "1:zavyT/cezQr1fmImYCwYnMXbgck=", "1:2hSqmsDZ2kdcY9kbiUzOEBic0iM="},
	{58, "3ffe:501:1800:2345::2", "3ffe:507:0:1:200:86ff:fe05:80da", 3, 0, true, "1:2ObVBgIn28oZvibYZhZMBgh7WdQ=", "1:lVEtCZpYu84Xqaa++3lXFyuu2n4="},
	{58, "3ffe:501:410:0:2c0:dfff:fe47:33e", "3ffe:507:0:1:200:86ff:fe05:80da", 1, 4, true, "1:hLZd0XGWojozrvxqE0dWB1iM6R0=", "1:W8MHwXpWzpoSTD+cGcaJr4u0ys8="},
	{58, "3ffe:507:0:1:200:86ff:fe05:80da", "3ffe:501:0:1001::2", 128, 129, true, "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=", "1:GfZxjAkDk2MkegpBYHV6tadtFXQ="},
	{58, "3ffe:501:0:1001::2", "3ffe:507:0:1:200:86ff:fe05:80da", 129, 128, true, "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=", "1:GfZxjAkDk2MkegpBYHV6tadtFXQ="},
	{58, "fe80::200:86ff:fe05:80da", "ff02::2", 133, 134, true, "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=", "1:L7Ka0ZMYu+J3bL4ulW2PrqyXNo8="},
	{58, "fe80::260:97ff:fe07:69ea", "ff02::1", 134, 133, true, "1:pkvHqCL88/tg1k4cPigmZXUtL00=", "1:K/ee5UCqAMAQXDorP5nSa2CGLjc="},
	{1, "192.168.0.89", "192.168.0.1", 8, 0, true, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=", "1:03g6IloqVBdcZlPyX8r0hgoE7kA="},
	{1, "192.168.0.1", "192.168.0.89", 0, 8, true, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=", "1:03g6IloqVBdcZlPyX8r0hgoE7kA="},
	{1, "10.0.0.1", "10.0.0.2", 11, 0, true, "1:YHxtAirCG//0OzkcVAukqKQN9xM=", "1:XjUibYHaafLQ3pxQeiMI8g25q20="},
	{6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943, 25, true, "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=", "1:eJYTW6AOzFLlSUoESovMjnu7rMw="},
	{6, "2607:f8b0:400c:c03::1a", "2001:470:e5bf:dead:4957:2174:e82c:4887", 25, 63943, true, "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=", "1:eJYTW6AOzFLlSUoESovMjnu7rMw="},
	{132, "192.168.170.8", "192.168.170.56", 7, 7, true, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=", "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg="},
	{132, "192.168.170.56", "192.168.170.8", 7, 7, true, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=", "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg="},
	{6, "128.232.110.120", "66.35.250.204", 34855, 80, true, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "1:3V71V58M3Ksw/yuFALMcW0LAHvc="},
	{6, "66.35.250.204", "128.232.110.120", 80, 34855, true, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "1:3V71V58M3Ksw/yuFALMcW0LAHvc="},
	{17, "192.168.1.52", "8.8.8.8", 54585, 53, true, "1:d/FP5EW3wiY1vCndhwleRRKHowQ=", "1:Q9We8WO3piVF8yEQBNJF4uiSVrI="},
	{17, "8.8.8.8", "192.168.1.52", 53, 54585, true, "1:d/FP5EW3wiY1vCndhwleRRKHowQ=", "1:Q9We8WO3piVF8yEQBNJF4uiSVrI="},
	{46, "10.1.12.1", "10.1.12.2", 0, 0, false, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=", "1:rYir8gphR31noO9iDRQmF/BteEI="},
	{46, "10.1.12.2", "10.1.12.1", 0, 0, false, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=", "1:rYir8gphR31noO9iDRQmF/BteEI="},
}

func TestComputeBaseline(t *testing.T) {
	for _, b := range baseline {
		for seed, want := range map[uint16]string{0: b.seed0, 1: b.seed1} {
			name := fmt.Sprintf("%d %s:%d-%s:%d seed %d", b.proto, b.saddr, b.sport, b.daddr, b.dport, seed)
			t.Run(name, func(t *testing.T) {
				got := Compute(seed, netip.MustParseAddr(b.saddr), netip.MustParseAddr(b.daddr), b.proto, b.sport, b.dport, b.ports)
				if got != want {
					t.Fatalf("got %s, want %s", got, want)
				}
			})
		}
	}
}

// TestBaselineThroughFlow runs every baseline vector through the filter as
// a flow would, with the transport as a number and the ports as Zeek
// writes them.
func TestBaselineThroughFlow(t *testing.T) {
	var cases []filtertest.Case
	for _, b := range baseline {
		for seed, want := range map[int]string{0: b.seed0, 1: b.seed1} {
			in := fmt.Sprintf(`{"destination":{"ip":%q,"port":%d},"network":{"iana_number":%d},"source":{"ip":%q,"port":%d}}`,
				b.daddr, b.dport, b.proto, b.saddr, b.sport)
			cases = append(cases, filtertest.Case{
				Name: fmt.Sprintf("%d %s:%d-%s:%d seed %d", b.proto, b.saddr, b.sport, b.daddr, b.dport, seed),
				Flow: fmt.Sprintf("filters:\n  - community_id:\n      transport: network.iana_number\n      seed: %d\n", seed),
				In:   in,
				Want: fmt.Sprintf(`{"destination":{"ip":%q,"port":%d},"network":{"community_id":%q,"iana_number":%d},"source":{"ip":%q,"port":%d}}`,
					b.daddr, b.dport, want, b.proto, b.saddr, b.sport),
			})
		}
	}
	filtertest.Run(t, cases)
}

func TestCommunityID(t *testing.T) {
	const zeek = "filters:\n  - community_id:\n" +
		"      source_ip: '\"id.orig_h\"'\n      source_port: '\"id.orig_p\"'\n" +
		"      destination_ip: '\"id.resp_h\"'\n      destination_port: '\"id.resp_p\"'\n" +
		"      transport: proto\n      target: community_id\n"
	const ecs = "filters:\n  - community_id: {}\n"
	const tcp = `"destination":{"ip":"66.35.250.204","port":80},"network":{%s"transport":"tcp"},"source":{"ip":"128.232.110.120","port":34855}`
	const tcpID = `"community_id":"1:LQU9qZlK+B5F3KDmev6m5PMibrg=",`

	filtertest.Run(t, []filtertest.Case{
		{Name: "zeek field names, flat dotted keys", Flow: zeek,
			In:   `{"id.orig_h":"128.232.110.120","id.orig_p":34855,"id.resp_h":"66.35.250.204","id.resp_p":80,"proto":"tcp"}`,
			Want: `{"community_id":"1:LQU9qZlK+B5F3KDmev6m5PMibrg=","id":{"orig_h":"128.232.110.120","orig_p":34855,"resp_h":"66.35.250.204","resp_p":80},"proto":"tcp"}`},
		{Name: "quoted references do not match nested objects", Flow: zeek,
			In:   `{"id":{"orig_h":"128.232.110.120","orig_p":34855,"resp_h":"66.35.250.204","resp_p":80},"proto":"tcp"}`,
			Want: `{"id":{"orig_h":"128.232.110.120","orig_p":34855,"resp_h":"66.35.250.204","resp_p":80},"proto":"tcp"}`},
		{Name: "ECS defaults", Flow: ecs, In: `{` + fmt.Sprintf(tcp, "") + `}`, Want: `{` + fmt.Sprintf(tcp, tcpID) + `}`},
		{Name: "transport name in capitals", Flow: ecs,
			In:   `{"destination":{"ip":"8.8.8.8","port":53},"network":{"transport":"UDP"},"source":{"ip":"192.168.1.52","port":54585}}`,
			Want: `{"destination":{"ip":"8.8.8.8","port":53},"network":{"community_id":"1:d/FP5EW3wiY1vCndhwleRRKHowQ=","transport":"UDP"},"source":{"ip":"192.168.1.52","port":54585}}`},
		{Name: "ports as text and transport as numeric text", Flow: ecs,
			In:   `{"destination":{"ip":"8.8.8.8","port":"53"},"network":{"transport":"17"},"source":{"ip":"192.168.1.52","port":"54585"}}`,
			Want: `{"destination":{"ip":"8.8.8.8","port":"53"},"network":{"community_id":"1:d/FP5EW3wiY1vCndhwleRRKHowQ=","transport":"17"},"source":{"ip":"192.168.1.52","port":"54585"}}`},
		{Name: "zeek icmp echo request: type 8, resp_p 0", Flow: ecs,
			In:   `{"destination":{"ip":"192.168.0.1","port":0},"network":{"transport":"icmp"},"source":{"ip":"192.168.0.89","port":8}}`,
			Want: `{"destination":{"ip":"192.168.0.1","port":0},"network":{"community_id":"1:X0snYXpgwiv9TZtqg64sgzUn6Dk=","transport":"icmp"},"source":{"ip":"192.168.0.89","port":8}}`},
		{Name: "zeek icmp for an ICMPv6 flow: neighbor solicitation, code 0", Flow: ecs,
			In:   `{"destination":{"ip":"fe80::260:97ff:fe07:69ea","port":0},"network":{"transport":"icmp"},"source":{"ip":"fe80::200:86ff:fe05:80da","port":135}}`,
			Want: `{"destination":{"ip":"fe80::260:97ff:fe07:69ea","port":0},"network":{"community_id":"1:dGHyGvjMfljg6Bppwm3bg0LO8TY=","transport":"icmp"},"source":{"ip":"fe80::200:86ff:fe05:80da","port":135}}`},
		{Name: "ipv6-icmp name, one-way type", Flow: ecs,
			In:   `{"destination":{"ip":"3ffe:507:0:1:200:86ff:fe05:80da","port":4},"network":{"transport":"ipv6-icmp"},"source":{"ip":"3ffe:501:410:0:2c0:dfff:fe47:33e","port":1}}`,
			Want: `{"destination":{"ip":"3ffe:507:0:1:200:86ff:fe05:80da","port":4},"network":{"community_id":"1:hLZd0XGWojozrvxqE0dWB1iM6R0=","transport":"ipv6-icmp"},"source":{"ip":"3ffe:501:410:0:2c0:dfff:fe47:33e","port":1}}`},
		{Name: "protocol without ports ignores missing ports", Flow: ecs,
			In:   `{"destination":{"ip":"10.1.12.2"},"network":{"transport":46},"source":{"ip":"10.1.12.1"}}`,
			Want: `{"destination":{"ip":"10.1.12.2"},"network":{"community_id":"1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=","transport":46},"source":{"ip":"10.1.12.1"}}`},
		{Name: "seed", Flow: "filters:\n  - community_id: {seed: 1}\n", In: `{` + fmt.Sprintf(tcp, "") + `}`,
			Want: `{` + fmt.Sprintf(tcp, `"community_id":"1:3V71V58M3Ksw/yuFALMcW0LAHvc=",`) + `}`},
		{Name: "existing value kept", Flow: ecs, In: `{` + fmt.Sprintf(tcp, `"community_id":"1:sensor",`) + `}`,
			Want: `{` + fmt.Sprintf(tcp, `"community_id":"1:sensor",`) + `}`},
		{Name: "existing empty value replaced", Flow: ecs, In: `{` + fmt.Sprintf(tcp, `"community_id":"",`) + `}`,
			Want: `{` + fmt.Sprintf(tcp, tcpID) + `}`},
		{Name: "overwrite", Flow: "filters:\n  - community_id: {overwrite: true}\n", In: `{` + fmt.Sprintf(tcp, `"community_id":"1:sensor",`) + `}`,
			Want: `{` + fmt.Sprintf(tcp, tcpID) + `}`},

		// nothing written
		{Name: "missing port", Flow: ecs, In: `{"destination":{"ip":"66.35.250.204"},"network":{"transport":"tcp"},"source":{"ip":"128.232.110.120","port":34855}}`,
			Want: `{"destination":{"ip":"66.35.250.204"},"network":{"transport":"tcp"},"source":{"ip":"128.232.110.120","port":34855}}`},
		{Name: "missing address", Flow: ecs, In: `{"destination":{"port":80},"network":{"transport":"tcp"},"source":{"ip":"128.232.110.120","port":34855}}`,
			Want: `{"destination":{"port":80},"network":{"transport":"tcp"},"source":{"ip":"128.232.110.120","port":34855}}`},
		{Name: "missing transport", Flow: ecs, In: `{"destination":{"ip":"66.35.250.204","port":80},"source":{"ip":"128.232.110.120","port":34855}}`,
			Want: `{"destination":{"ip":"66.35.250.204","port":80},"source":{"ip":"128.232.110.120","port":34855}}`},
		{Name: "unknown transport", Flow: ecs, In: `{"destination":{"ip":"66.35.250.204","port":80},"network":{"transport":"unknown_transport"},"source":{"ip":"128.232.110.120","port":34855}}`,
			Want: `{"destination":{"ip":"66.35.250.204","port":80},"network":{"transport":"unknown_transport"},"source":{"ip":"128.232.110.120","port":34855}}`},

		// failures
		{Name: "address that is not an IP", Flow: ecs, In: `{"destination":{"ip":"66.35.250.204","port":80},"network":{"transport":"tcp"},"source":{"ip":"router-1","port":34855}}`,
			Err: `cannot compute the community id: field source.ip holds "router-1", which is not an IP address`},
		{Name: "port out of range", Flow: ecs, In: `{"destination":{"ip":"66.35.250.204","port":70000},"network":{"transport":"tcp"},"source":{"ip":"128.232.110.120","port":34855}}`,
			Err: `field destination.port holds 70000, which is not a port (0-65535)`},
		{Name: "mixed IP versions", Flow: ecs, In: `{"destination":{"ip":"::1","port":80},"network":{"transport":"tcp"},"source":{"ip":"128.232.110.120","port":34855}}`,
			Err: `source.ip is IPv4 but destination.ip is IPv6`},
		{Name: "bad address with on_error tag", Flow: ecs + "    on_error: tag\n",
			In:   `{"destination":{"ip":"x","port":80},"network":{"transport":"tcp"},"source":{"ip":"128.232.110.120","port":34855}}`,
			Want: `{"destination":{"ip":"x","port":80},"network":{"transport":"tcp"},"source":{"ip":"128.232.110.120","port":34855},"tags":["_community_id_failure"]}`},
		{Name: "conflict on target", Flow: "filters:\n  - community_id: {target: network.community_id.v1}\n", In: `{` + fmt.Sprintf(tcp, `"community_id":"x",`) + `}`,
			Err: `cannot write field network.community_id.v1: "network.community_id" already holds a string ("x"), not an object`},
		{Name: "if condition", Flow: ecs + "    if: 'network.transport != \"tcp\"'\n", In: `{` + fmt.Sprintf(tcp, "") + `}`,
			Want: `{` + fmt.Sprintf(tcp, "") + `}`},
	})
}

func TestCommunityIDBadSettings(t *testing.T) {
	filtertest.RunBadConfigs(t, []filtertest.BadConfig{
		{"seed too large", "filters:\n  - community_id: {seed: 65536}\n", "seed: 65536 is outside 0-65535"},
		{"negative seed", "filters:\n  - community_id: {seed: -1}\n", "seed: -1 is outside 0-65535"},
		{"bad reference", "filters:\n  - community_id: {source_ip: ''}\n", "source_ip: empty field reference"},
	})
}

func TestCommunityIDDocs(t *testing.T) { filtertest.CheckDocs(t, "community_id") }

func BenchmarkCommunityID(b *testing.B) {
	c := New()
	if err := sdk.DecodeSettingsText([]byte("overwrite: true\n"), c); err != nil {
		b.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		b.Fatal(err)
	}
	ev, err := event.Decode([]byte(`{"destination":{"ip":"66.35.250.204","port":80},"network":{"transport":"tcp"},` +
		`"source":{"ip":"128.232.110.120","port":34855}}`))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Apply(ev); err != nil {
			b.Fatal(err)
		}
	}
}
