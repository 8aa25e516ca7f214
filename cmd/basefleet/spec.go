package main

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"basestation/provisioning"
)

// shard is k of n (1-based), parsed from "k/n".
type shard struct{ K, N int }

func parseShard(s string) (shard, error) {
	a, b, ok := strings.Cut(s, "/")
	k, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || k < 1 || k > n {
		return shard{}, fmt.Errorf("shard %q is not k/n with 1 <= k <= n", s)
	}
	return shard{k, n}, nil
}

// indexes returns the fleet indexes [lo, hi) of shard k of n over a fleet
// of total bases: contiguous ranges, sizes differing by at most one, the
// same in every process given the same total and n.
func (s shard) indexes(total int) (lo, hi int) {
	return total * (s.K - 1) / s.N, total * s.K / s.N
}

func (s shard) String() string { return fmt.Sprintf("%d/%d", s.K, s.N) }

// spec is everything one base of the fleet is, derived from its index
// alone, so every shard and the cloud side agree without talking.
type spec struct {
	Index   int
	ID      string
	Contact netip.Addr // its SIP contact address, in 127.0.0.0/8
	Users   [2]sipUser // extension 101 (the phone port) and 102 (a Linx)
	LinxIPE uint64     // the IPEI of its Linx
}

type sipUser struct{ Number, User, Password string }

// maxFleet bounds the fleet: contact addresses from 127.1.0.1 up stay
// below 127.255.255.255 (makeSpec checks the /8 of any start).
const maxFleet = 1 << 23

func makeSpec(prefix string, first netip.Addr, i int) (spec, error) {
	id := fmt.Sprintf("%s%05d", prefix, i)
	if err := provisioning.CheckBaseID(id); err != nil {
		return spec{}, fmt.Errorf("base id prefix %q: %w", prefix, err)
	}
	a4 := first.As4()
	v := uint32(a4[0])<<24 | uint32(a4[1])<<16 | uint32(a4[2])<<8 | uint32(a4[3])
	v += uint32(i)
	if v>>24 != uint32(a4[0]) || i < 0 {
		return spec{}, fmt.Errorf("base %d: contact address past %d.255.255.255 (start %s)", i, a4[0], first)
	}
	addr := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	s := spec{Index: i, ID: id, Contact: addr, LinxIPE: 0x100000000 + uint64(i)}
	for j, num := range []string{"101", "102"} {
		u := fmt.Sprintf("%s%05d-%s", prefix, i, num)
		s.Users[j] = sipUser{Number: num, User: u, Password: "pw-" + u}
	}
	return s, nil
}

// linxID is the Linx's device id as the daemon names it (dect-EMC/PSN).
func (s spec) linxID() string { return fmt.Sprintf("dect-%09x", s.LinxIPE&0xFFFFFFFFF) }

// config is a configuration of the base: 101 on the phone port, 102 on
// its Linx when linx (the base refuses a device it has not paired), both
// accounts at registrar.
func (s spec) config(registrar string, version uint64, linx bool) *provisioning.Config {
	host := registrar
	if u, err := url.Parse(registrar); err == nil && u.Opaque != "" {
		host = u.Opaque
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	cfg := &provisioning.Config{
		Schema: provisioning.SchemaVersion, Base: s.ID, Version: version,
		System: provisioning.System{Registrars: []string{registrar}, ToneRegion: "US", TimeZone: "UTC"},
	}
	for j, u := range s.Users {
		e := provisioning.Extension{Number: u.Number, DisplayName: "Fleet " + u.User,
			SIP: provisioning.SIPAccount{User: u.User, Password: u.Password, Domain: host}}
		if j == 0 {
			e.Devices.Port = provisioning.PortDeviceID
		} else if linx {
			e.Devices.Linx = s.linxID()
		}
		cfg.Extensions = append(cfg.Extensions, e)
	}
	return cfg
}

// checkRegistrar accepts sip:host:port (or sip:host) with an IP address.
func checkRegistrar(r string) error {
	u, err := url.Parse(r)
	if err != nil || u.Scheme != "sip" || u.Opaque == "" {
		return fmt.Errorf("registrar %q is not sip:HOST[:PORT]", r)
	}
	host := u.Opaque
	if h, p, err := net.SplitHostPort(host); err == nil {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("registrar %q: port %q is not 1..65535", r, p)
		}
		host = h
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return fmt.Errorf("registrar %q: host %q is not an IP address", r, host)
	}
	return nil
}

// checkBroker accepts tcp://host:port (MQTT 3.1.1 over TCP).
func checkBroker(b string) error {
	u, err := url.Parse(b)
	if err != nil || (u.Scheme != "tcp" && u.Scheme != "mqtt") || u.Host == "" || u.Port() == "" {
		return fmt.Errorf("broker %q is not tcp://HOST:PORT", b)
	}
	return nil
}
