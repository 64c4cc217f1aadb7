package main

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func addrs(list ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range list {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

func TestAllocateAddressTakesTheLowestFree(t *testing.T) {
	prefix := netip.MustParsePrefix("192.168.90.0/24")
	for _, c := range []struct {
		taken []netip.Addr
		want  string
	}{
		{nil, "192.168.90.2"},
		{addrs("192.168.90.2", "192.168.90.3"), "192.168.90.4"},
		{addrs("192.168.90.3", "192.168.90.2", "192.168.90.5"), "192.168.90.4"},
	} {
		if got, err := allocateAddress(prefix, c.taken); err != nil || got.String() != c.want {
			t.Errorf("taken %v: %s, %v; want %s", c.taken, got, err, c.want)
		}
	}
	small := netip.MustParsePrefix("10.0.0.8/29") // .8 network, .9 bridge, .15 broadcast
	if _, err := allocateAddress(small, addrs("10.0.0.10", "10.0.0.11", "10.0.0.12", "10.0.0.13", "10.0.0.14")); err == nil ||
		!strings.Contains(err.Error(), "every address is reserved (5 machines)") {
		t.Errorf("a full network: %v", err)
	}
	if got, _ := allocateAddress(small, addrs("10.0.0.10", "10.0.0.11", "10.0.0.12", "10.0.0.13")); got.String() != "10.0.0.14" {
		t.Errorf("the last address of a /29: %s", got)
	}
}

func TestAddressForKeepsAMachinesAddress(t *testing.T) {
	n := &bridgeNetwork{Bridge: "kdwvmt0", Prefix: netip.MustParsePrefix("192.168.91.0/24")}
	reservations := []reservation{
		{Tap: "kdwqaaaaaa", MAC: "52:54:00:aa:aa:aa", IP: "192.168.91.2", Name: "a"},
		{Tap: "kdwqbbbbbb", MAC: "52:54:00:bb:bb:bb", IP: "192.168.91.4", Name: "b"},
	}
	for _, c := range []struct {
		m    member
		want string
	}{
		{member{Name: "c", Tap: "kdwqcccccc"}, "192.168.91.3"},
		{member{Name: "b", Tap: "kdwqbbbbbb"}, "192.168.91.4"},                     // its reservation survived
		{member{Name: "c", Tap: "kdwqcccccc", IP: "192.168.91.9"}, "192.168.91.9"}, // after a reboot cleared /run
	} {
		if got, err := n.addressFor(c.m, reservations); err != nil || got.String() != c.want {
			t.Errorf("%+v: %s, %v; want %s", c.m, got, err, c.want)
		}
	}
	if _, err := n.addressFor(member{Name: "c", Tap: "kdwqcccccc", IP: "192.168.91.4"}, reservations); err == nil ||
		!strings.Contains(err.Error(), "machine c's address 192.168.91.4 is reserved for machine b") {
		t.Errorf("a taken address: %v", err)
	}
	if _, err := n.addressFor(member{Name: "c", Tap: "kdwqcccccc", IP: "10.0.0.2"}, reservations); err == nil ||
		!strings.Contains(err.Error(), "is not in 192.168.91.0/24") {
		t.Errorf("an address outside the network: %v", err)
	}
}

func TestReservationFiles(t *testing.T) {
	r := reservation{Tap: "kdwq0a1b2c", MAC: "52:54:00:0a:1b:2c", IP: "192.168.90.2", Name: "kdw-worker-0"}
	if line := reservationLine(r); line != "52:54:00:0a:1b:2c,192.168.90.2,kdw-worker-0,infinite\n" {
		t.Errorf("dhcp-host line %q", line)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, r.Tap), []byte(reservationLine(r)), 0o644)
	got, err := readReservations(dir)
	if err != nil || len(got) != 1 || got[0] != r {
		t.Errorf("read back: %+v, %v", got, err)
	}
	os.WriteFile(filepath.Join(dir, "broken"), []byte("52:54:00:0a:1b:2c\n"), 0o644)
	if _, err := readReservations(dir); err == nil || !strings.Contains(err.Error(), "broken: not MAC,IP,name,lease") {
		t.Errorf("a broken file: %v", err)
	}
	if got, err := readReservations(filepath.Join(dir, "none")); err != nil || got != nil {
		t.Errorf("no folder yet: %v, %v", got, err)
	}
}

func TestDnsmasqServesOnlyTheBridge(t *testing.T) {
	n := &bridgeNetwork{Bridge: "kdwvm0", Prefix: netip.MustParsePrefix("192.168.90.0/24")}
	args := strings.Join(n.dnsmasqArgs(), " ")
	for _, want := range []string{
		"--conf-file=/dev/null", "--bind-interfaces --interface=kdwvm0 --except-interface=lo --listen-address=192.168.90.1",
		"--no-resolv --no-hosts", "--dhcp-range=192.168.90.0,static,255.255.255.0,infinite",
		"--dhcp-hostsdir=/run/kdw-qemu/kdwvm0/hosts", "--dhcp-leasefile=/run/kdw-qemu/kdwvm0/leases",
		"--dhcp-option=option:router,192.168.90.1", "--dhcp-option=option:dns-server,192.168.90.1",
		"--pid-file=/run/kdw-qemu/kdwvm0/dnsmasq.pid",
	} {
		if !strings.Contains(args, want) {
			t.Errorf("dnsmasq lacks %q:\n%s", want, args)
		}
	}
	if rules := forwardRules("kdwvm0"); strings.Join(rules[0], " ") != "-i kdwvm0 -j ACCEPT" || strings.Join(rules[1], " ") != "-o kdwvm0 -j ACCEPT" {
		t.Errorf("FORWARD rules %v", rules)
	}
}
