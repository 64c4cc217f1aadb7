package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rancher/machine/libmachine/state"
)

// The host test runs real VMs (qemu with KVM, or tcg where KVM cannot boot a stock kernel; with no OS to boot: the
// firmware runs and idles) on a bridge and
// network of its own, which cannot collide with the driver's defaults, and checks that removing them leaves nothing.
const (
	testBridge = "kdwvmt0"
	testCIDR   = "192.168.91.0/24"
)

// requireHost skips, saying why, unless this is a root machine with the driver's host tools.
func requireHost(t *testing.T) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, tool := range []string{"qemu-system-x86_64", "dnsmasq", "ip", "iptables"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		t.Skipf("SKIPPED: the VM test on a real bridge needs %s (bash scripts/vm-deps.sh installs the tools)", strings.Join(missing, ", "))
	}
	if linkExists(testBridge) {
		t.Fatalf("bridge %s exists before the test: a run before this one left it; remove it (ip link delete %s) and %s", testBridge, testBridge, runtimeRoot+"/"+testBridge)
	}
}

// testAccelerator is kvm where it can boot a stock kernel, else qemu's software emulation.
func testAccelerator(t *testing.T) string {
	if err := checkKVM(); err != nil {
		t.Logf("running the VMs with tcg: %v", err)
		return "tcg"
	}
	return "kvm"
}

func testMachine(t *testing.T, store, iso, name, accelerator string) *Driver {
	t.Helper()
	d := NewDriver(name, store)
	err := d.SetConfigFromFlags(flagValues(d, map[string]interface{}{
		"qemu-boot2docker-url": iso, "qemu-memory": 512, "qemu-disk-size": 1024, "qemu-accel": accelerator,
		"qemu-network-bridge": testBridge, "qemu-network-cidr": testCIDR, "qemu-stop-timeout": 2,
	}))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func waitForState(t *testing.T, d *Driver, want state.State, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		got, err := d.GetState()
		if err == nil && got == want {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("machine %s: state %s (%v) after %s, want %s", d.MachineName, got, err, timeout, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func forwardRuleExists(rule []string) bool {
	return exec.Command("iptables", append([]string{"-w", "-C", "FORWARD"}, rule...)...).Run() == nil
}

func TestVMsOnARealBridge(t *testing.T) {
	requireHost(t)
	store := t.TempDir()
	// Not bootable: enough for qemu, which boots firmware, finds no OS and idles.
	iso := filepath.Join(store, "empty.iso")
	if err := os.WriteFile(iso, make([]byte, 64<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	accelerator := testAccelerator(t)
	a, b := testMachine(t, store, iso, "kdwqt-a", accelerator), testMachine(t, store, iso, "kdwqt-b", accelerator)
	t.Cleanup(func() {
		for _, d := range []*Driver{a, b} {
			if err := d.Remove(); err != nil {
				t.Errorf("clean-up of %s: %v", d.MachineName, err)
			}
		}
	})
	for _, d := range []*Driver{a, b} {
		if err := d.PreCreateCheck(); err != nil {
			t.Fatal(err)
		}
	}

	// Both at once, as Pulumi creates machines: the bridge's lock gives them distinct addresses.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	started := time.Now()
	for i, d := range []*Driver{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.createFiles(); err != nil {
				errs[i] = err
			} else if err := d.joinNetwork(); err != nil {
				errs[i] = err
			} else {
				errs[i] = d.launch()
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	toRunning := waitForState(t, a, state.Running, 20*time.Second)
	waitForState(t, b, state.Running, 20*time.Second)
	t.Logf("two VMs from nothing to QMP status running in %s (a: %s after its qemu returned)", time.Since(started).Round(time.Millisecond), toRunning.Round(time.Millisecond))
	if got := []string{a.IPAddress, b.IPAddress}; !(got[0] == "192.168.91.2" && got[1] == "192.168.91.3" || got[0] == "192.168.91.3" && got[1] == "192.168.91.2") {
		t.Errorf("addresses %v: want .2 and .3", got)
	}

	n, _ := a.network()
	bridge, err := net.InterfaceByName(testBridge)
	if err != nil {
		t.Fatalf("bridge %s: %v", testBridge, err)
	}
	bridgeAddrs, _ := bridge.Addrs()
	var ipv4 []string
	for _, address := range bridgeAddrs {
		if ipNet, ok := address.(*net.IPNet); ok && ipNet.IP.To4() != nil {
			ipv4 = append(ipv4, address.String())
		}
	}
	if strings.Join(ipv4, " ") != "192.168.91.1/24" {
		t.Errorf("bridge IPv4 addresses %v", ipv4)
	}
	for _, d := range []*Driver{a, b} {
		if master, err := os.Readlink("/sys/class/net/" + d.TapName + "/master"); err != nil || filepath.Base(master) != testBridge {
			t.Errorf("tap %s is not on %s: %s %v", d.TapName, testBridge, master, err)
		}
	}
	for _, rule := range forwardRules(testBridge) {
		if !forwardRuleExists(rule) {
			t.Errorf("FORWARD %v is missing", rule)
		}
	}
	if _, running := n.dnsmasqProcess(); !running {
		t.Error("dnsmasq is not running")
	}
	if disk, err := os.ReadFile(a.diskPath()); err != nil || !bytes.HasPrefix(disk, []byte(formatMeMagic)) {
		t.Errorf("disk image: %v", err)
	}

	// No OS, so no ACPI: Stop waits its 2 s and says what to do.
	if err := a.Stop(); err == nil || !strings.Contains(err.Error(), "did not power off within 2 s") || !strings.Contains(err.Error(), "docker-machine kill kdwqt-a") {
		t.Errorf("Stop of a VM without an OS: %v", err)
	}
	if err := a.Start(); err != nil {
		t.Errorf("Start of a running VM: %v", err)
	}
	if err := a.Kill(); err != nil {
		t.Fatal(err)
	}
	waitForState(t, a, state.Stopped, time.Second)
	if err := a.Stop(); err != nil {
		t.Errorf("Stop of a stopped VM: %v", err)
	}
	checkDHCP(t, n, a)

	// Start of a stopped VM boots it again (on the address it had) and gives up when SSH never answers.
	sshWaitTimeout = 3 * time.Second
	defer func() { sshWaitTimeout = 5 * time.Minute }()
	ipBefore := a.IPAddress
	if err := a.Start(); err == nil || !strings.Contains(err.Error(), ":22 accepted no connection within 3s") || !strings.Contains(err.Error(), "console.log") {
		t.Errorf("Start of a VM that never answers SSH: %v", err)
	}
	if a.IPAddress != ipBefore {
		t.Errorf("the address changed on Start: %s, was %s", a.IPAddress, ipBefore)
	}
	waitForState(t, a, state.Running, 10*time.Second)
	pidA, _ := a.qemuProcess()

	// The first removal leaves the bridge to the other VM.
	if err := a.Remove(); err != nil {
		t.Fatal(err)
	}
	if processRunsDisk(pidA, a.diskPath()) || linkExists(a.TapName) || !linkExists(testBridge) {
		t.Errorf("after removing a: qemu %v, tap %v, bridge %v (want false, false, true)", processRunsDisk(pidA, a.diskPath()), linkExists(a.TapName), linkExists(testBridge))
	}
	if _, err := os.Stat(filepath.Join(n.hostsDir(), a.TapName)); err == nil {
		t.Error("a's reservation is left")
	}

	// The last removal leaves nothing of the network.
	dnsmasqPid, _ := n.dnsmasqProcess()
	pidB, _ := b.qemuProcess()
	if err := b.Remove(); err != nil {
		t.Fatal(err)
	}
	var left []string
	if processRunsDisk(pidB, b.diskPath()) {
		left = append(left, fmt.Sprintf("qemu pid %d", pidB))
	}
	for _, link := range []string{b.TapName, testBridge} {
		if linkExists(link) {
			left = append(left, "link "+link)
		}
	}
	if processAlive(dnsmasqPid, n.isDnsmasq) {
		left = append(left, fmt.Sprintf("dnsmasq pid %d", dnsmasqPid))
	}
	for _, rule := range forwardRules(testBridge) {
		if forwardRuleExists(rule) {
			left = append(left, "FORWARD "+strings.Join(rule, " "))
		}
	}
	if _, err := os.Stat(n.stateDir()); err == nil {
		left = append(left, n.stateDir())
	}
	if len(left) > 0 {
		t.Errorf("left behind after the last VM: %s", strings.Join(left, "; "))
	}
	// A machine removed twice (docker-machine rm after a failed rm) is no error.
	if err := a.Remove(); err != nil {
		t.Errorf("second Remove: %v", err)
	}
	if linkExists(testBridge) {
		t.Error("the second Remove made the bridge again")
	}
}

// checkDHCP asks the bridge's dnsmasq for an address with the stopped machine's MAC, from busybox's udhcpc in a
// network namespace of its own on a veth pair to the bridge (a guest with no OS asks nothing), and expects the
// machine's reserved address.
func checkDHCP(t *testing.T, n *bridgeNetwork, d *Driver) {
	t.Helper()
	if _, err := exec.LookPath("busybox"); err != nil {
		t.Log("SKIPPED the DHCP check: busybox (udhcpc) is not installed")
		return
	}
	const namespace, hostEnd, guestEnd = "kdwqt-dhcp", "kdwqtv0", "kdwqtv1"
	removeNamespace := func() { _ = exec.Command("ip", "netns", "delete", namespace).Run() } // takes the veth pair along
	removeNamespace()
	defer removeNamespace()
	for _, args := range [][]string{
		{"netns", "add", namespace},
		{"link", "add", hostEnd, "type", "veth", "peer", "name", guestEnd, "netns", namespace},
		{"link", "set", "dev", hostEnd, "master", n.Bridge, "up"},
		{"-n", namespace, "link", "set", "dev", guestEnd, "address", d.MACAddress, "up"},
	} {
		if err := run("ip", args...); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command("ip", "netns", "exec", namespace,
		"busybox", "udhcpc", "-i", guestEnd, "-f", "-q", "-n", "-t", "10", "-T", "1", "-s", "/bin/true").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "lease of "+d.IPAddress+" obtained") {
		log, _ := os.ReadFile(filepath.Join(n.stateDir(), "dnsmasq.log"))
		t.Errorf("DHCP for %s: %v, want a lease of %s:\n%s\ndnsmasq log:\n%s", d.MACAddress, err, d.IPAddress, out, log)
		return
	}
	t.Logf("dnsmasq gave MAC %s its reserved %s", d.MACAddress, d.IPAddress)
}
