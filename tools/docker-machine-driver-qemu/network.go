package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rancher/machine/libmachine/log"
)

// runtimeRoot holds each bridge's shared state: the bridge, its taps and dnsmasq are gone after a host reboot, and
// so is this folder. It is the host's, not a machine store's: two stores on one bridge share one DHCP server.
const runtimeRoot = "/run/kdw-qemu"

// bridgeNetwork is one host bridge with a DHCP server that hands every VM the address reserved for its MAC. What
// all VMs of the bridge share (the bridge, dnsmasq, the iptables rules, the address pool) changes only under the
// bridge's lock: docker-machine creates run in parallel.
type bridgeNetwork struct {
	Bridge string
	Prefix netip.Prefix
}

// member is one VM's part of the network.
type member struct{ Name, Tap, MAC, IP string }

// reservation is one file of dnsmasq's --dhcp-hostsdir: the address for a MAC, named after the VM's tap.
type reservation struct{ Tap, MAC, IP, Name string }

func (n *bridgeNetwork) stateDir() string    { return filepath.Join(runtimeRoot, n.Bridge) }
func (n *bridgeNetwork) hostsDir() string    { return filepath.Join(n.stateDir(), "hosts") }
func (n *bridgeNetwork) dnsmasqPid() string  { return filepath.Join(n.stateDir(), "dnsmasq.pid") }
func (n *bridgeNetwork) gateway() netip.Addr { return n.Prefix.Addr().Next() }

// join gives m its address (the one it had, else the lowest free one), its reservation and its tap, and brings up
// what the bridge's VMs share when it is missing. It returns m's address.
func (n *bridgeNetwork) join(m member) (string, error) {
	unlock, err := n.lock()
	if err != nil {
		return "", err
	}
	defer unlock()
	if err := os.MkdirAll(n.hostsDir(), 0o755); err != nil {
		return "", fmt.Errorf("making %s: %w", n.hostsDir(), err)
	}
	reservations, err := readReservations(n.hostsDir())
	if err != nil {
		return "", err
	}
	ip, err := n.addressFor(m, reservations)
	if err != nil {
		return "", err
	}
	if err := n.writeReservation(reservation{Tap: m.Tap, MAC: m.MAC, IP: ip.String(), Name: m.Name}); err != nil {
		return "", err
	}
	for _, step := range []func() error{n.ensureBridge, n.ensureForwarding, n.ensureDnsmasq, func() error { return n.ensureTap(m.Tap) }} {
		if err := step(); err != nil {
			return "", err
		}
	}
	log.Infof("Machine %s has %s on bridge %s (tap %s, MAC %s)", m.Name, ip, n.Bridge, m.Tap, m.MAC)
	return ip.String(), nil
}

// addressFor keeps the address a machine already has, unless another machine now holds it.
func (n *bridgeNetwork) addressFor(m member, reservations []reservation) (netip.Addr, error) {
	var taken []netip.Addr
	own := m.IP
	for _, r := range reservations {
		if r.Tap == m.Tap {
			if own == "" {
				own = r.IP
			}
			continue
		}
		addr, err := netip.ParseAddr(r.IP)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("reservation %s holds the address %q: remove that file", filepath.Join(n.hostsDir(), r.Tap), r.IP)
		}
		if own != "" && r.IP == own {
			return netip.Addr{}, fmt.Errorf("machine %s's address %s is reserved for machine %s (%s): remove one of the two machines",
				m.Name, own, r.Name, filepath.Join(n.hostsDir(), r.Tap))
		}
		taken = append(taken, addr)
	}
	if own != "" {
		addr, err := netip.ParseAddr(own)
		if err != nil || !n.Prefix.Contains(addr) {
			return netip.Addr{}, fmt.Errorf("machine %s's address %q is not in %s: remove the machine and create it again", m.Name, own, n.Prefix)
		}
		return addr, nil
	}
	return allocateAddress(n.Prefix, taken)
}

// allocateAddress is the lowest address of prefix that is not the network, the bridge's first address, the broadcast
// address, nor taken.
func allocateAddress(prefix netip.Prefix, taken []netip.Addr) (netip.Addr, error) {
	used := map[netip.Addr]bool{}
	for _, a := range taken {
		used[a] = true
	}
	gateway := prefix.Addr().Next()
	for a := gateway.Next(); prefix.Contains(a); a = a.Next() {
		if !prefix.Contains(a.Next()) { // the broadcast address
			break
		}
		if !used[a] {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("qemu-network-cidr %s: every address is reserved (%d machines): remove a machine or choose a larger network", prefix, len(taken))
}

// reservationLine is dnsmasq's dhcp-host syntax: the MAC always gets this address and name, for good.
func reservationLine(r reservation) string {
	return fmt.Sprintf("%s,%s,%s,infinite\n", r.MAC, r.IP, r.Name)
}

func parseReservation(tap, text string) (reservation, error) {
	fields := strings.Split(strings.TrimSpace(text), ",")
	if len(fields) != 4 {
		return reservation{}, fmt.Errorf("not MAC,IP,name,lease: %q", text)
	}
	return reservation{Tap: tap, MAC: fields[0], IP: fields[1], Name: fields[2]}, nil
}

func readReservations(dir string) ([]reservation, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the DHCP reservations in %s: %w", dir, err)
	}
	var reservations []reservation
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("reading the DHCP reservation %s: %w", e.Name(), err)
		}
		r, err := parseReservation(e.Name(), string(data))
		if err != nil {
			return nil, fmt.Errorf("DHCP reservation %s: %w: remove that file", filepath.Join(dir, e.Name()), err)
		}
		reservations = append(reservations, r)
	}
	return reservations, nil
}

// writeReservation writes beside the folder and renames into it: dnsmasq reads new files of its hosts folder as they
// appear and must never see half of one.
func (n *bridgeNetwork) writeReservation(r reservation) error {
	final := filepath.Join(n.hostsDir(), r.Tap)
	if current, err := os.ReadFile(final); err == nil && string(current) == reservationLine(r) {
		return nil
	}
	partial := filepath.Join(n.stateDir(), r.Tap+".new")
	if err := os.WriteFile(partial, []byte(reservationLine(r)), 0o644); err != nil {
		return fmt.Errorf("writing the DHCP reservation of %s: %w", r.Name, err)
	}
	if err := os.Rename(partial, final); err != nil {
		return fmt.Errorf("writing the DHCP reservation of %s: %w", r.Name, err)
	}
	return nil
}

// leave removes m's tap and reservation and, with the bridge's last VM, dnsmasq, the bridge, the iptables rules and
// the state folder. Each step is skipped when its object is already gone, and a failed step does not stop the others.
func (n *bridgeNetwork) leave(m member) error {
	unlock, err := n.lock()
	if err != nil {
		return err
	}
	defer unlock()
	var errs []error
	if err := deleteLink(m.Tap); err != nil {
		errs = append(errs, err)
	}
	if err := os.Remove(filepath.Join(n.hostsDir(), m.Tap)); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("removing the DHCP reservation of %s: %w", m.Name, err))
	}
	remaining, err := readReservations(n.hostsDir())
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	if len(remaining) > 0 {
		// dnsmasq notices new reservation files by itself, removed ones only on SIGHUP.
		if pid, running := n.dnsmasqProcess(); running {
			_ = syscall.Kill(pid, syscall.SIGHUP)
		}
		return errors.Join(errs...)
	}
	if linkExists(n.Bridge) {
		log.Infof("Machine %s was the last on bridge %s: removing the bridge, its DHCP server and its iptables rules", m.Name, n.Bridge)
	}
	for _, step := range []func() error{n.stopDnsmasq, func() error { return deleteLink(n.Bridge) }, n.removeForwarding} {
		if err := step(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		if err := os.RemoveAll(n.stateDir()); err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", n.stateDir(), err))
		}
		_ = os.Remove(runtimeRoot) // only when no other bridge uses it
	}
	return errors.Join(errs...)
}

// lock takes the bridge's lock. The last VM's Remove deletes the state folder with its lock file while others may
// wait for it: a lock on a file no longer at the path guards nothing, so it is taken again.
func (n *bridgeNetwork) lock() (func(), error) {
	path := filepath.Join(n.stateDir(), "lock")
	for {
		if err := os.MkdirAll(n.stateDir(), 0o755); err != nil {
			return nil, fmt.Errorf("making %s: %w: the qemu driver runs as root", n.stateDir(), err)
		}
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("opening the lock %s: %w", path, err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		var held, current syscall.Stat_t
		if syscall.Fstat(int(f.Fd()), &held) == nil && syscall.Stat(path, &current) == nil &&
			held.Dev == current.Dev && held.Ino == current.Ino {
			return func() { f.Close() }, nil
		}
		f.Close()
	}
}

// run runs a host command and names it with its output when it fails.
func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func linkExists(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}

func deleteLink(name string) error {
	if name == "" || !linkExists(name) {
		return nil
	}
	return run("ip", "link", "delete", "dev", name)
}

func (n *bridgeNetwork) ensureBridge() error {
	if !linkExists(n.Bridge) {
		if other, err := interfaceInPrefix(n.Prefix, n.Bridge); err != nil {
			return err
		} else if other != "" {
			return fmt.Errorf("qemu-network-cidr %s: the host's interface %s already has an address in it: choose another network for bridge %s", n.Prefix, other, n.Bridge)
		}
		if err := run("ip", "link", "add", "name", n.Bridge, "type", "bridge"); err != nil {
			return fmt.Errorf("making bridge %s: %w", n.Bridge, err)
		}
	}
	address := netip.PrefixFrom(n.gateway(), n.Prefix.Bits()).String()
	if err := run("ip", "address", "replace", address, "dev", n.Bridge); err != nil {
		return fmt.Errorf("giving bridge %s the address %s: %w", n.Bridge, address, err)
	}
	return run("ip", "link", "set", "dev", n.Bridge, "up")
}

// interfaceInPrefix names an interface other than the bridge with an address in prefix: its routes would compete.
func interfaceInPrefix(prefix netip.Prefix, bridge string) (string, error) {
	interfaces, err := net.Interfaces()
	if err != nil {
		return "", fmt.Errorf("listing the host's interfaces: %w", err)
	}
	for _, iface := range interfaces {
		if iface.Name == bridge {
			continue
		}
		addrs, err := iface.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if ipNet, ok := a.(*net.IPNet); ok {
				if addr, ok := netip.AddrFromSlice(ipNet.IP); ok && prefix.Contains(addr.Unmap()) {
					return iface.Name, nil
				}
			}
		}
	}
	return "", nil
}

// forwardRules let the bridge's frames through the host's FORWARD chain: Docker sets its policy to DROP and loads
// br_netfilter, which would drop VM-to-VM traffic (pod routes) and VM-to-host-network traffic (the registry).
func forwardRules(bridge string) [][]string {
	return [][]string{{"-i", bridge, "-j", "ACCEPT"}, {"-o", bridge, "-j", "ACCEPT"}}
}

func (n *bridgeNetwork) ensureForwarding() error {
	// The VMs reach the host's other networks (the registry) through the host; Docker sets this only while it runs.
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1\n"), 0o644); err != nil {
		return fmt.Errorf("enabling IPv4 forwarding: %w", err)
	}
	for _, rule := range forwardRules(n.Bridge) {
		if run("iptables", append([]string{"-w", "-C", "FORWARD"}, rule...)...) == nil {
			continue
		}
		if err := run("iptables", append([]string{"-w", "-I", "FORWARD"}, rule...)...); err != nil {
			return fmt.Errorf("letting bridge %s's traffic through FORWARD: %w", n.Bridge, err)
		}
	}
	return nil
}

func (n *bridgeNetwork) removeForwarding() error {
	for _, rule := range forwardRules(n.Bridge) {
		for run("iptables", append([]string{"-w", "-C", "FORWARD"}, rule...)...) == nil {
			if err := run("iptables", append([]string{"-w", "-D", "FORWARD"}, rule...)...); err != nil {
				return fmt.Errorf("removing bridge %s's FORWARD rule: %w", n.Bridge, err)
			}
		}
	}
	return nil
}

// dnsmasqArgs: DHCP on the bridge only, for reserved MACs only (a static range), with the bridge as the VMs'
// default route and DNS server. DNS answers the VMs' names and nothing else (no upstream, no /etc/hosts).
func (n *bridgeNetwork) dnsmasqArgs() []string {
	gateway := n.gateway().String()
	mask := net.IP(net.CIDRMask(n.Prefix.Bits(), 32)).String()
	return []string{
		"--conf-file=/dev/null",
		"--bind-interfaces", "--interface=" + n.Bridge, "--except-interface=lo", "--listen-address=" + gateway,
		"--no-resolv", "--no-hosts",
		"--dhcp-authoritative",
		"--dhcp-range=" + n.Prefix.Addr().String() + ",static," + mask + ",infinite",
		"--dhcp-hostsdir=" + n.hostsDir(),
		"--dhcp-leasefile=" + filepath.Join(n.stateDir(), "leases"),
		"--dhcp-option=option:router," + gateway,
		"--dhcp-option=option:dns-server," + gateway,
		"--pid-file=" + n.dnsmasqPid(),
		"--log-facility=" + filepath.Join(n.stateDir(), "dnsmasq.log"),
		"--log-dhcp",
	}
}

// dnsmasqProcess: the pid file's process, if it is this bridge's dnsmasq.
func (n *bridgeNetwork) dnsmasqProcess() (int, bool) {
	data, err := os.ReadFile(n.dnsmasqPid())
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, processAlive(pid, n.isDnsmasq)
}

func (n *bridgeNetwork) isDnsmasq(cmdline []byte) bool {
	return bytes.Contains(cmdline, []byte("--interface="+n.Bridge+"\x00"))
}

func (n *bridgeNetwork) ensureDnsmasq() error {
	if _, running := n.dnsmasqProcess(); running {
		return nil
	}
	// dnsmasq forks and its parent exits once the daemon serves (or reports why it cannot). Its output goes to a
	// file: a pipe would be held open by the daemon and Run would never return.
	outPath := filepath.Join(n.stateDir(), "dnsmasq.out")
	out, err := os.Create(outPath)
	if err != nil {
		return fmt.Errorf("making %s: %w", outPath, err)
	}
	defer out.Close()
	cmd := exec.Command("dnsmasq", n.dnsmasqArgs()...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		text, _ := os.ReadFile(outPath)
		return fmt.Errorf("starting dnsmasq on bridge %s: %v: %s", n.Bridge, err, strings.TrimSpace(string(text)))
	}
	return nil
}

func (n *bridgeNetwork) stopDnsmasq() error {
	pid, running := n.dnsmasqProcess()
	if !running {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stopping dnsmasq (pid %d) of bridge %s: %w", pid, n.Bridge, err)
	}
	// Watched by pid: dnsmasq removes its pid file before it is gone.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if !processAlive(pid, n.isDnsmasq) {
			return nil
		}
	}
	return fmt.Errorf("dnsmasq (pid %d) of bridge %s is still running 5 s after SIGTERM: kill it", pid, n.Bridge)
}

// ensureTap makes the VM's persistent tap (qemu opens it by name and needs no helper script) and puts it on the bridge.
func (n *bridgeNetwork) ensureTap(tap string) error {
	if !linkExists(tap) {
		if err := run("ip", "tuntap", "add", "dev", tap, "mode", "tap"); err != nil {
			return fmt.Errorf("making tap %s: %w", tap, err)
		}
	}
	if err := run("ip", "link", "set", "dev", tap, "master", n.Bridge, "up"); err != nil {
		return fmt.Errorf("putting tap %s on bridge %s: %w", tap, n.Bridge, err)
	}
	return nil
}
