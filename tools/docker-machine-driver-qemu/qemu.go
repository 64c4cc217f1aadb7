package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rancher/machine/libmachine/log"
	"github.com/rancher/machine/libmachine/state"
)

// vmSpec is everything the qemu command line is made of.
type vmSpec struct {
	Name, ISO, Disk, Tap, MAC, Monitor, PidFile, Console string
	Accelerator                                          string
	MemoryMB, CPUs                                       int
	VhostNet                                             bool
}

func (d *Driver) vmSpec() vmSpec {
	_, vhostErr := os.Stat("/dev/vhost-net")
	return vmSpec{
		Name: d.MachineName, ISO: d.isoPath(), Disk: d.diskPath(), Tap: d.TapName, MAC: d.MACAddress,
		Monitor: d.MonitorPath, PidFile: d.pidPath(), Console: d.consolePath(),
		Accelerator: d.Accelerator, MemoryMB: d.Memory, CPUs: d.CPU, VhostNet: vhostErr == nil,
	}
}

// qemuArgs: a KVM guest that boots the ISO, with the raw data disk and a virtio NIC on the VM's tap. -daemonize
// makes qemu detach once the VM runs (the plugin process exits after each command; the VM must not), and reports
// start-up errors such as an unusable /dev/kvm before it does. -nodefaults leaves out the default NIC, monitor,
// serial, parallel port and VGA; the serial console goes to a file for debugging boots.
func qemuArgs(vm vmSpec) []string {
	vhost := "off"
	if vm.VhostNet {
		vhost = "on"
	}
	// The host's CPU but for IA32_ARCH_CAPABILITIES: under nested KVM qemu 7.2 aborts a second after start
	// ("failed to set MSR 0x10a") when the guest gets that MSR. tcg emulates its most capable CPU.
	cpu := "host,-arch-capabilities"
	if vm.Accelerator == "tcg" {
		cpu = "max"
	}
	return []string{
		"-name", vm.Name,
		"-machine", "pc,accel=" + vm.Accelerator, "-cpu", cpu,
		"-smp", strconv.Itoa(vm.CPUs), "-m", strconv.Itoa(vm.MemoryMB),
		"-nodefaults", "-display", "none",
		"-boot", "order=d",
		"-cdrom", vm.ISO,
		// format=raw always: qemu refuses writes to sector 0 of a raw image it had to probe.
		"-drive", "file=" + vm.Disk + ",if=virtio,format=raw,cache=writeback",
		"-netdev", "tap,id=net0,ifname=" + vm.Tap + ",script=no,downscript=no,vhost=" + vhost,
		"-device", "virtio-net-pci,netdev=net0,mac=" + vm.MAC,
		// Entropy for the guest's first TLS keys and sshd host keys, which would otherwise wait for it.
		"-device", "virtio-rng-pci",
		"-serial", "file:" + vm.Console,
		"-qmp", "unix:" + vm.Monitor + ",server=on,wait=off",
		"-pidfile", vm.PidFile,
		"-daemonize",
	}
}

// launch runs qemu, which returns once the VM is running or failed to start.
func (d *Driver) launch() error {
	if err := os.MkdirAll(filepath.Dir(d.MonitorPath), 0o700); err != nil {
		return fmt.Errorf("making the folder of the QMP socket %s: %w", d.MonitorPath, err)
	}
	// A file, not a pipe: the daemonized qemu keeps its output open, and Run would wait for a pipe to close.
	logFile, err := os.Create(d.qemuLogPath())
	if err != nil {
		return fmt.Errorf("making qemu's log %s: %w", d.qemuLogPath(), err)
	}
	defer logFile.Close()
	args := qemuArgs(d.vmSpec())
	log.Debugf("%s %s", d.QemuBinary, strings.Join(args, " "))
	cmd := exec.Command(d.QemuBinary, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	start := time.Now()
	if err := cmd.Run(); err != nil {
		output, _ := os.ReadFile(d.qemuLogPath())
		return fmt.Errorf("starting qemu for machine %s: %v: %s(the command line and output are in %s)",
			d.MachineName, err, strings.TrimSpace(string(output))+" ", d.qemuLogPath())
	}
	log.Infof("qemu started machine %s in %s", d.MachineName, time.Since(start).Round(time.Millisecond))
	return nil
}

// qemuProcess reads the pid file and tells whether that process is this machine's qemu (a pid can be reused).
func (d *Driver) qemuProcess() (int, bool) {
	data, err := os.ReadFile(d.pidPath())
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, processRunsDisk(pid, d.diskPath())
}

// processRunsDisk tells whether pid is the qemu of this disk.
func processRunsDisk(pid int, disk string) bool {
	return processAlive(pid, func(cmdline []byte) bool { return cmdlineRunsDisk(cmdline, disk) })
}

// processAlive: the process exists, is not a zombie (exited, not yet reaped by its parent), and its command line is
// the one expected (a pid from a file can belong to another process by now).
func processAlive(pid int, isExpected func(cmdline []byte) bool) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil || processIsZombie(stat) {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && isExpected(cmdline)
}

// processIsZombie reads the state field of /proc/<pid>/stat, which follows the command name in parentheses.
func processIsZombie(stat []byte) bool {
	end := bytes.LastIndexByte(stat, ')')
	return end >= 0 && len(stat) > end+2 && stat[end+2] == 'Z'
}

func cmdlineRunsDisk(cmdline []byte, disk string) bool {
	for _, arg := range bytes.Split(cmdline, []byte{0}) {
		if strings.HasPrefix(string(arg), "file="+disk+",") {
			return true
		}
	}
	return false
}

func waitForExit(pid int, timeout time.Duration, disk string) bool {
	deadline := time.Now().Add(timeout)
	for processRunsDisk(pid, disk) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(200 * time.Millisecond)
	}
	return true
}

func kill(pid int) error {
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// waitForTCP polls until address accepts a connection; it gives up early when the VM's process is gone.
func waitForTCP(address string, timeout time.Duration, process func() (int, bool)) error {
	deadline := time.Now().Add(timeout)
	for {
		conn, err := net.DialTimeout("tcp", address, 2*time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		if _, alive := process(); !alive {
			return fmt.Errorf("qemu exited before %s accepted a connection", address)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s accepted no connection within %s (last: %v)", address, timeout, err)
		}
		time.Sleep(time.Second)
	}
}

// stateOfStatus maps QMP's RunState (query-status) to docker-machine's states.
func stateOfStatus(status string) state.State {
	switch status {
	case "running":
		return state.Running
	case "paused", "suspended", "debug":
		return state.Paused
	case "shutdown":
		return state.Stopping // qemu exits right after; until then the guest is going down
	case "prelaunch", "inmigrate", "restore-vm":
		return state.Starting
	case "save-vm", "finish-migrate", "postmigrate":
		return state.Saved
	default: // internal-error, io-error, guest-panicked, watchdog, colo
		return state.Error
	}
}
