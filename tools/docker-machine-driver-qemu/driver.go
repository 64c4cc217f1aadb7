package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/rancher/machine/libmachine/drivers"
	"github.com/rancher/machine/libmachine/log"
	"github.com/rancher/machine/libmachine/mcnflag"
	"github.com/rancher/machine/libmachine/mcnutils"
	"github.com/rancher/machine/libmachine/ssh"
	"github.com/rancher/machine/libmachine/state"
)

const (
	driverName = "qemu"
	sshUser    = "docker"
	// dockerPort is where the boot2docker provisioner makes dockerd listen with TLS.
	dockerPort = 2376

	defaultMemoryMB    = 2048
	defaultCPUCount    = 1
	defaultDiskSizeMB  = 20000
	defaultBridge      = "kdwvm0"
	defaultCIDR        = "192.168.90.0/24"
	defaultQemuBinary  = "qemu-system-x86_64"
	defaultStopTimeout = 90
	defaultAccelerator = "kvm"

	minMemoryMB   = 512
	minDiskSizeMB = 1024
)

// sshWaitTimeout bounds Start: a lean ISO boots in well under a minute, six at once on two cores in a few. A variable
// so that the host test sees Start give up on a VM with nothing to boot.
var sshWaitTimeout = 5 * time.Minute

// Driver is a docker-machine driver for qemu/KVM VMs on one host bridge. Every docker-machine command starts a new
// plugin process and hands it the driver as JSON (machines/<name>/config.json): whatever a later command needs is an
// exported field.
type Driver struct {
	*drivers.BaseDriver
	Memory         int
	CPU            int
	DiskSize       int
	Boot2DockerURL string // the field name the boot2docker provisioner's `upgrade` reads
	NetworkBridge  string
	NetworkCIDR    string
	DiskSeed       string
	QemuBinary     string
	Accelerator    string // kvm, or tcg: qemu's software emulation
	StopTimeout    int    // seconds Stop waits for the guest to power off
	MACAddress     string
	TapName        string
	MonitorPath    string // the QMP socket
}

// NewDriver is what docker-machine's plugin server wraps; the name and store path arrive again with the JSON config.
func NewDriver(machineName, storePath string) *Driver {
	return &Driver{
		BaseDriver: &drivers.BaseDriver{MachineName: machineName, StorePath: storePath, SSHUser: sshUser},
		Memory:     defaultMemoryMB, CPU: defaultCPUCount, DiskSize: defaultDiskSizeMB,
		NetworkBridge: defaultBridge, NetworkCIDR: defaultCIDR, QemuBinary: defaultQemuBinary,
		Accelerator: defaultAccelerator, StopTimeout: defaultStopTimeout,
	}
}

func (d *Driver) DriverName() string { return driverName }

func (d *Driver) GetCreateFlags() []mcnflag.Flag {
	return []mcnflag.Flag{
		mcnflag.IntFlag{Name: "qemu-memory", Usage: "memory of the VM in MB", Value: defaultMemoryMB},
		mcnflag.IntFlag{Name: "qemu-cpu-count", Usage: "virtual CPUs of the VM", Value: defaultCPUCount},
		mcnflag.IntFlag{Name: "qemu-disk-size", Usage: "size of the VM's data disk in MB (sparse)", Value: defaultDiskSizeMB},
		mcnflag.StringFlag{Name: "qemu-boot2docker-url",
			Usage: "the boot2docker ISO: a local path or file:// URL (nothing is downloaded)"},
		mcnflag.StringFlag{Name: "qemu-network-bridge", Value: defaultBridge,
			Usage: "host bridge the VMs share; made with its DHCP server when the first VM needs it, removed with the last"},
		mcnflag.StringFlag{Name: "qemu-network-cidr", Value: defaultCIDR,
			Usage: "IPv4 network of the bridge: the host takes the first address, VMs the lowest free ones"},
		mcnflag.StringFlag{Name: "qemu-disk-seed",
			Usage: "a folder whose files the VM finds in /var/lib/boot2docker at first boot (e.g. certs/ca.pem): " +
				"they go into the data disk's tar under boot2docker/, at most 1 MiB in all"},
		mcnflag.StringFlag{Name: "qemu-binary", Value: defaultQemuBinary,
			Usage: "the qemu-system-x86_64 to run: a name on PATH or a path"},
		mcnflag.StringFlag{Name: "qemu-accel", Value: defaultAccelerator,
			Usage: "kvm, or tcg (software emulation, several times slower) where /dev/kvm cannot boot a stock kernel, " +
				"as a nested host whose /dev/kvm is kvm_pvm"},
		mcnflag.IntFlag{Name: "qemu-stop-timeout", Value: defaultStopTimeout,
			Usage: "seconds `stop` waits for the guest to power off after the ACPI power button"},
	}
}

// SetConfigFromFlags checks every flag and reports all that are wrong at once. SSHUser and SSHKeyPath are set here
// so that they are in config.json for `docker-machine inspect` before the first SSH connection.
func (d *Driver) SetConfigFromFlags(flags drivers.DriverOptions) error {
	d.Memory = flags.Int("qemu-memory")
	d.CPU = flags.Int("qemu-cpu-count")
	d.DiskSize = flags.Int("qemu-disk-size")
	d.Boot2DockerURL = flags.String("qemu-boot2docker-url")
	d.NetworkBridge = flags.String("qemu-network-bridge")
	d.NetworkCIDR = flags.String("qemu-network-cidr")
	d.DiskSeed = flags.String("qemu-disk-seed")
	d.QemuBinary = flags.String("qemu-binary")
	d.Accelerator = flags.String("qemu-accel")
	d.StopTimeout = flags.Int("qemu-stop-timeout")
	d.SetSwarmConfigFromFlags(flags)
	d.SSHUser = sshUser
	d.SSHPort = drivers.DefaultSSHPort
	d.SSHKeyPath = d.ResolveStorePath("id_rsa")
	hash := machineHash(d.ResolveStorePath("."))
	d.MACAddress = macAddress(hash)
	d.TapName = tapName(hash)
	d.MonitorPath = monitorPath(d.ResolveStorePath("."))
	return d.validate()
}

var bridgeNamePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,15}$`)

func (d *Driver) validate() error {
	var errs []error
	if d.Memory < minMemoryMB {
		errs = append(errs, fmt.Errorf("qemu-memory %d: at least %d MB", d.Memory, minMemoryMB))
	}
	if d.CPU < 1 {
		errs = append(errs, fmt.Errorf("qemu-cpu-count %d: at least 1", d.CPU))
	}
	if d.DiskSize < minDiskSizeMB {
		errs = append(errs, fmt.Errorf("qemu-disk-size %d: at least %d MB", d.DiskSize, minDiskSizeMB))
	}
	if _, err := isoSourcePath(d.Boot2DockerURL); err != nil {
		errs = append(errs, err)
	}
	if !bridgeNamePattern.MatchString(d.NetworkBridge) {
		errs = append(errs, fmt.Errorf("qemu-network-bridge %q: an interface name of 1 to 15 letters, digits, '_', '.' or '-'", d.NetworkBridge))
	}
	if _, err := parseNetworkCIDR(d.NetworkCIDR); err != nil {
		errs = append(errs, err)
	}
	if d.DiskSeed != "" {
		if info, err := os.Stat(d.DiskSeed); err != nil || !info.IsDir() {
			errs = append(errs, fmt.Errorf("qemu-disk-seed %q: not a folder: give a folder whose files go to /var/lib/boot2docker, or leave it empty", d.DiskSeed))
		}
	}
	if d.QemuBinary == "" {
		errs = append(errs, errors.New("qemu-binary is empty: give qemu-system-x86_64's name on PATH or its path"))
	}
	if d.Accelerator != "kvm" && d.Accelerator != "tcg" {
		errs = append(errs, fmt.Errorf("qemu-accel %q: kvm or tcg", d.Accelerator))
	}
	if d.StopTimeout < 1 {
		errs = append(errs, fmt.Errorf("qemu-stop-timeout %d: at least 1 second", d.StopTimeout))
	}
	return errors.Join(errs...)
}

// isoSourcePath turns --qemu-boot2docker-url into a local path. Anything else is refused: libmachine's ISO cache
// would fetch boot2docker's releases from GitHub, which are neither reachable here nor the ISO this driver boots.
func isoSourcePath(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("qemu-boot2docker-url is empty: give the path (or file:// URL) of a boot2docker ISO built for this driver")
	}
	u, err := url.Parse(raw)
	if err == nil && u.Scheme == "file" {
		if u.Path == "" || (u.Host != "" && u.Host != "localhost") {
			return "", fmt.Errorf("qemu-boot2docker-url %q: a file:// URL needs an absolute path on this host, as file:///srv/boot2docker.iso", raw)
		}
		return u.Path, nil
	}
	if err == nil && u.Scheme != "" && len(u.Scheme) > 1 {
		return "", fmt.Errorf("qemu-boot2docker-url %q: only a local path or file:// URL, nothing is downloaded: fetch the ISO yourself and give its path", raw)
	}
	return raw, nil
}

// parseNetworkCIDR accepts an IPv4 network with room for the host and at least one VM.
func parseNetworkCIDR(cidr string) (netip.Prefix, error) {
	prefix, err := netip.ParsePrefix(cidr)
	if err != nil || !prefix.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("qemu-network-cidr %q: not an IPv4 network such as %s", cidr, defaultCIDR)
	}
	if prefix.Bits() > 29 {
		return netip.Prefix{}, fmt.Errorf("qemu-network-cidr %q: too small, at most /29 (the host and the VMs need addresses)", cidr)
	}
	if prefix.Masked() != prefix {
		return netip.Prefix{}, fmt.Errorf("qemu-network-cidr %q: host bits are set, the network is %s", cidr, prefix.Masked())
	}
	return prefix, nil
}

// machineHash names what a VM owns on the host (tap, MAC, fallback socket) after its folder, so that two stores with
// a machine of the same name do not collide and a later command finds the same names.
func machineHash(machineDir string) []byte {
	sum := sha256.Sum256([]byte(filepath.Clean(machineDir)))
	return sum[:]
}

// macAddress: QEMU's locally administered prefix 52:54:00 and three bytes of the machine's hash.
func macAddress(hash []byte) string {
	return fmt.Sprintf("52:54:00:%02x:%02x:%02x", hash[0], hash[1], hash[2])
}

// tapName is at most 15 characters (IFNAMSIZ).
func tapName(hash []byte) string { return "kdwq" + hex.EncodeToString(hash[:3]) }

// maxSocketPath is sun_path's 108 bytes less the terminating NUL.
const maxSocketPath = 107

// monitorPath is the QMP socket in the machine's folder, or, when a deep storage path makes that too long for a unix
// socket, a name in /run/kdw-qemu derived from the folder.
func monitorPath(machineDir string) string {
	inFolder := filepath.Join(machineDir, "monitor")
	if len(inFolder) <= maxSocketPath {
		return inFolder
	}
	return filepath.Join(runtimeRoot, hex.EncodeToString(machineHash(machineDir)[:8])+".qmp")
}

func (d *Driver) isoPath() string     { return d.ResolveStorePath("boot2docker.iso") }
func (d *Driver) diskPath() string    { return d.ResolveStorePath("disk.raw") }
func (d *Driver) pidPath() string     { return d.ResolveStorePath("qemu.pid") }
func (d *Driver) consolePath() string { return d.ResolveStorePath("console.log") }
func (d *Driver) qemuLogPath() string { return d.ResolveStorePath("qemu.log") }

// GetIP is the address in config.json, or, for a machine whose create failed (docker-machine saves config.json only
// after a successful Create), its DHCP reservation.
func (d *Driver) GetIP() (string, error) {
	if d.IPAddress != "" {
		return d.IPAddress, nil
	}
	if n, err := d.network(); err == nil {
		if data, err := os.ReadFile(filepath.Join(n.hostsDir(), d.TapName)); err == nil {
			if r, err := parseReservation(d.TapName, string(data)); err == nil {
				return r.IP, nil
			}
		}
	}
	return "", fmt.Errorf("machine %s has no IP address yet: create it first", d.MachineName)
}

func (d *Driver) GetSSHHostname() (string, error) { return d.GetIP() }

func (d *Driver) GetSSHUsername() string {
	if d.SSHUser == "" {
		d.SSHUser = sshUser
	}
	return d.SSHUser
}

func (d *Driver) GetURL() (string, error) {
	ip, err := d.GetIP()
	if err != nil {
		return "", err
	}
	return "tcp://" + net.JoinHostPort(ip, strconv.Itoa(dockerPort)), nil
}

// PreCreateCheck finds everything Create needs before anything is made, and names all that is missing at once.
func (d *Driver) PreCreateCheck() error {
	var errs []error
	if os.Geteuid() != 0 {
		errs = append(errs, errors.New("the qemu driver makes a bridge, taps and iptables rules: run docker-machine as root"))
	}
	if d.Accelerator == "kvm" {
		if err := checkKVM(); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		errs = append(errs, fmt.Errorf("/dev/net/tun is missing (%v): load the tun module (modprobe tun)", err))
	}
	for _, tool := range []struct{ name, pkg string }{
		{d.QemuBinary, "qemu-system-x86 (apt-get install --no-install-recommends qemu-system-x86), or set qemu-binary"},
		{"ip", "iproute2"}, {"dnsmasq", "dnsmasq-base (not dnsmasq, which starts a system DNS service)"},
		{"iptables", "iptables"},
	} {
		if _, err := exec.LookPath(tool.name); err != nil {
			errs = append(errs, fmt.Errorf("%s is not on PATH: install %s (scripts/vm-deps.sh does)", tool.name, tool.pkg))
		}
	}
	if iso, err := isoSourcePath(d.Boot2DockerURL); err != nil {
		errs = append(errs, err)
	} else if info, err := os.Stat(iso); err != nil || info.IsDir() {
		errs = append(errs, fmt.Errorf("qemu-boot2docker-url %q: no ISO file at %s: build it first or fix the path", d.Boot2DockerURL, iso))
	}
	if _, err := parseNetworkCIDR(d.NetworkCIDR); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// checkKVM: /dev/kvm opens, and is not kvm_pvm (a KVM for nested hosts without hardware virtualisation that runs only
// guest kernels built for it: a stock kernel hangs right after its real-mode setup, and isolinux fails at once).
func checkKVM() error {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("/dev/kvm cannot be opened for reading and writing (%v): enable virtualisation (VT-x/AMD-V, nested KVM in a VM) and load kvm_intel or kvm_amd, or use --qemu-accel tcg", err)
	}
	f.Close()
	if _, err := os.Stat("/sys/module/kvm_pvm"); err == nil {
		return errors.New("/dev/kvm is kvm_pvm, which boots only kernels built as PVM guests, not the boot2docker ISO's: use --qemu-accel tcg")
	}
	return nil
}

// Create makes the VM's files and boots it; Start gives it its place on the network.
func (d *Driver) Create() error {
	if err := d.createFiles(); err != nil {
		return err
	}
	return d.Start()
}

func (d *Driver) createFiles() error {
	if err := os.MkdirAll(d.ResolveStorePath("."), 0o700); err != nil {
		return fmt.Errorf("making the machine folder: %w", err)
	}
	iso, err := isoSourcePath(d.Boot2DockerURL)
	if err != nil {
		return err
	}
	log.Infof("Copying %s to the machine folder...", iso)
	if err := mcnutils.CopyFile(iso, d.isoPath()); err != nil {
		return fmt.Errorf("copying the ISO %s to %s: %w: check qemu-boot2docker-url", iso, d.isoPath(), err)
	}
	if err := ssh.GenerateSSHKey(d.GetSSHKeyPath()); err != nil {
		return fmt.Errorf("making the SSH key %s: %w", d.GetSSHKeyPath(), err)
	}
	pubKey, err := os.ReadFile(d.GetSSHKeyPath() + ".pub")
	if err != nil {
		return fmt.Errorf("reading the SSH public key: %w", err)
	}
	tarball, err := diskTar(pubKey, d.DiskSeed)
	if err != nil {
		return err
	}
	log.Infof("Creating a %d MB disk image...", d.DiskSize)
	return writeDiskImage(d.diskPath(), tarball, d.DiskSize)
}

func (d *Driver) network() (*bridgeNetwork, error) {
	prefix, err := parseNetworkCIDR(d.NetworkCIDR)
	if err != nil {
		return nil, err
	}
	return &bridgeNetwork{Bridge: d.NetworkBridge, Prefix: prefix}, nil
}

// joinNetwork brings up the bridge and gives the VM an address, its DHCP reservation and its tap. Start does it
// again: after a host reboot nothing of the network is left but the address in config.json.
func (d *Driver) joinNetwork() error {
	n, err := d.network()
	if err != nil {
		return err
	}
	ip, err := n.join(member{Name: d.MachineName, Tap: d.TapName, MAC: d.MACAddress, IP: d.IPAddress})
	if err != nil {
		return err
	}
	d.IPAddress = ip
	return nil
}

func (d *Driver) GetState() (state.State, error) {
	if _, alive := d.qemuProcess(); !alive {
		return state.Stopped, nil
	}
	status, err := queryStatus(d.MonitorPath)
	if err != nil {
		// The process is there but its monitor is not answering yet (or is busy with another client).
		log.Debugf("QMP query-status of %s: %v", d.MachineName, err)
		return state.Starting, nil
	}
	return stateOfStatus(status), nil
}

// Start boots the VM unless it runs, and returns once its SSH port accepts connections.
func (d *Driver) Start() error {
	if _, alive := d.qemuProcess(); alive {
		return nil
	}
	if err := d.joinNetwork(); err != nil {
		return err
	}
	if err := d.launch(); err != nil {
		return err
	}
	address := net.JoinHostPort(d.IPAddress, "22")
	log.Infof("Waiting for SSH at %s...", address)
	if err := waitForTCP(address, sshWaitTimeout, d.qemuProcess); err != nil {
		return fmt.Errorf("machine %s started but %v: its console log is %s", d.MachineName, err, d.consolePath())
	}
	return nil
}

// Stop presses the ACPI power button and waits for the guest to power off.
func (d *Driver) Stop() error {
	pid, alive := d.qemuProcess()
	if !alive {
		return nil
	}
	if _, err := qmpExecute(d.MonitorPath, "system_powerdown"); err != nil {
		return fmt.Errorf("machine %s: the ACPI power button (QMP system_powerdown) failed: %w: `docker-machine kill %s` stops it hard", d.MachineName, err, d.MachineName)
	}
	if !waitForExit(pid, time.Duration(d.StopTimeout)*time.Second, d.diskPath()) {
		return fmt.Errorf("machine %s did not power off within %d s of the ACPI power button (its ISO needs acpid): `docker-machine kill %s` stops it hard", d.MachineName, d.StopTimeout, d.MachineName)
	}
	return nil
}

// Kill ends qemu at once: QMP quit, else SIGKILL.
func (d *Driver) Kill() error {
	pid, alive := d.qemuProcess()
	if !alive {
		return nil
	}
	if _, err := qmpExecute(d.MonitorPath, "quit"); err != nil {
		log.Debugf("QMP quit of %s: %v; sending SIGKILL", d.MachineName, err)
	} else if waitForExit(pid, 10*time.Second, d.diskPath()) {
		return nil
	}
	if err := kill(pid); err != nil {
		return fmt.Errorf("machine %s: SIGKILL to qemu (pid %d) failed: %w", d.MachineName, pid, err)
	}
	if !waitForExit(pid, 10*time.Second, d.diskPath()) {
		return fmt.Errorf("machine %s: qemu (pid %d) is still there 10 s after SIGKILL: look at it with ps", d.MachineName, pid)
	}
	return nil
}

// Restart is a clean power cycle; a hard reset (QMP system_reset) could leave the data disk unclean.
func (d *Driver) Restart() error {
	if err := d.Stop(); err != nil {
		return err
	}
	return d.Start()
}

// Remove undoes everything the machine made outside its folder (docker-machine deletes the folder afterwards). It
// goes on after a failure so that a partly removed machine is removed as far as possible, and works again on one
// already gone.
func (d *Driver) Remove() error {
	var errs []error
	if err := d.Kill(); err != nil {
		errs = append(errs, err)
	}
	if d.MonitorPath != "" && !isWithin(d.MonitorPath, d.ResolveStorePath(".")) {
		if err := os.Remove(d.MonitorPath); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("removing the QMP socket: %w", err))
		}
	}
	if n, err := d.network(); err != nil {
		errs = append(errs, err)
	} else if err := n.leave(member{Name: d.MachineName, Tap: d.TapName, MAC: d.MACAddress, IP: d.IPAddress}); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func isWithin(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}
