package main

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	rpcdriver "github.com/rancher/machine/libmachine/drivers/rpc"
	"github.com/rancher/machine/libmachine/mcnflag"
	"github.com/rancher/machine/libmachine/state"
)

// flagValues is what docker-machine create hands SetConfigFromFlags: every flag's default, overridden.
func flagValues(d *Driver, overrides map[string]interface{}) rpcdriver.RPCFlags {
	values := map[string]interface{}{"swarm-master": false, "swarm-host": "", "swarm-discovery": ""}
	for _, f := range d.GetCreateFlags() {
		values[f.String()] = f.Default()
	}
	for k, v := range overrides {
		values[k] = v
	}
	return rpcdriver.RPCFlags{Values: values}
}

func TestFlagsAreNamedForTheDriverAndDocumented(t *testing.T) {
	for _, f := range NewDriver("", "").GetCreateFlags() {
		if !strings.HasPrefix(f.String(), "qemu-") {
			t.Errorf("flag %s: docker-machine needs the driver's name as prefix", f)
		}
		var usage string
		switch flag := f.(type) {
		case mcnflag.IntFlag:
			usage = flag.Usage
		case mcnflag.StringFlag:
			usage = flag.Usage
		}
		if usage == "" {
			t.Errorf("flag %s has no usage", f)
		}
	}
}

func TestSetConfigFromFlagsKeepsWhatLaterCommandsNeed(t *testing.T) {
	d := NewDriver("kdw-controller-0", "/store")
	if err := d.SetConfigFromFlags(flagValues(d, map[string]interface{}{"qemu-boot2docker-url": "file:///srv/b2d.iso", "qemu-memory": 3072})); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	// A later command's plugin process knows only what config.json holds.
	restored := NewDriver("", "")
	if err := json.Unmarshal(data, restored); err != nil {
		t.Fatal(err)
	}
	checks := map[string][2]interface{}{
		"SSHUser":        {restored.SSHUser, "docker"},
		"SSHKeyPath":     {restored.SSHKeyPath, "/store/machines/kdw-controller-0/id_rsa"},
		"Memory":         {restored.Memory, 3072},
		"Boot2DockerURL": {restored.Boot2DockerURL, "file:///srv/b2d.iso"},
		"NetworkBridge":  {restored.NetworkBridge, "kdwvm0"},
		"MonitorPath":    {restored.MonitorPath, "/store/machines/kdw-controller-0/monitor"},
		"TapName":        {restored.TapName, d.TapName},
		"MACAddress":     {restored.MACAddress, d.MACAddress},
		"StopTimeout":    {restored.StopTimeout, 90},
		"Accelerator":    {restored.Accelerator, "kvm"},
	}
	for field, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s after a JSON round trip: %v, want %v", field, c[0], c[1])
		}
	}
	if restored.DriverName() != "qemu" || restored.GetSSHUsername() != "docker" {
		t.Errorf("driver %q, user %q", restored.DriverName(), restored.GetSSHUsername())
	}
}

func TestSetConfigFromFlagsNamesEveryWrongFlag(t *testing.T) {
	d := NewDriver("m", "/store")
	err := d.SetConfigFromFlags(flagValues(d, map[string]interface{}{
		"qemu-memory": 100, "qemu-cpu-count": 0, "qemu-disk-size": 100,
		"qemu-boot2docker-url": "https://github.com/boot2docker/boot2docker/releases/download/v19.03.12/boot2docker.iso",
		"qemu-network-bridge":  "a-bridge-name-too-long", "qemu-network-cidr": "192.168.90.1/24",
		"qemu-disk-seed": "/nonexistent", "qemu-stop-timeout": 0, "qemu-accel": "hvf",
	}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"qemu-memory 100: at least 512 MB", "qemu-cpu-count 0: at least 1", "qemu-disk-size 100: at least 1024 MB",
		`qemu-boot2docker-url "https://github.com/`, "nothing is downloaded",
		`qemu-network-bridge "a-bridge-name-too-long"`, "host bits are set, the network is 192.168.90.0/24",
		`qemu-disk-seed "/nonexistent": not a folder`, "qemu-stop-timeout 0: at least 1 second", `qemu-accel "hvf": kvm or tcg`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestISOSourceIsLocalOnly(t *testing.T) {
	for raw, want := range map[string]string{
		"/srv/b2d.iso": "/srv/b2d.iso", "file:///srv/b2d.iso": "/srv/b2d.iso", "b2d.iso": "b2d.iso",
	} {
		if got, err := isoSourcePath(raw); err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", raw, got, err, want)
		}
	}
	for raw, want := range map[string]string{
		"":                    "qemu-boot2docker-url is empty",
		"http://x/b2d.iso":    "only a local path or file:// URL",
		"https://x/b2d.iso":   "only a local path or file:// URL",
		"file://host/b2d.iso": "needs an absolute path",
	} {
		if _, err := isoSourcePath(raw); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error with %q", raw, err, want)
		}
	}
}

func TestNetworkCIDR(t *testing.T) {
	for cidr, want := range map[string]string{
		"192.168.90.0/24": "", "10.1.2.0/29": "", "10.1.2.0/30": "too small", "fd00::/64": "not an IPv4 network",
		"nonsense": "not an IPv4 network", "10.0.0.5/24": "host bits are set",
	} {
		_, err := parseNetworkCIDR(cidr)
		if (err == nil) != (want == "") || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: %v, want %q", cidr, err, want)
		}
	}
}

func TestNamesDerivedFromTheMachineFolder(t *testing.T) {
	a, b := machineHash("/store/machines/kdw-worker-0"), machineHash("/store/machines/kdw-worker-1")
	if !regexp.MustCompile(`^52:54:00(:[0-9a-f]{2}){3}$`).MatchString(macAddress(a)) {
		t.Errorf("MAC %s", macAddress(a))
	}
	if macAddress(a) == macAddress(b) || tapName(a) == tapName(b) {
		t.Errorf("two machines share a MAC or tap: %s %s %s %s", macAddress(a), macAddress(b), tapName(a), tapName(b))
	}
	if macAddress(a) != macAddress(machineHash("/store/machines/kdw-worker-0/.")) {
		t.Error("the same folder written differently gives another MAC")
	}
	if len(tapName(a)) > 15 || !strings.HasPrefix(tapName(a), "kdwq") {
		t.Errorf("tap %s: at most 15 characters, kdwq prefix", tapName(a))
	}
}

func TestMonitorSocketFallsBackWhenTheFolderIsTooDeep(t *testing.T) {
	short := "/root/.docker/machine/machines/kdw-controller-0"
	if got := monitorPath(short); got != short+"/monitor" {
		t.Errorf("short folder: %s", got)
	}
	deep := "/home/ci/builds/" + strings.Repeat("x", 80) + "/.cache/machine/machines/kdw-controller-0"
	got := monitorPath(deep)
	if filepath.Dir(got) != runtimeRoot || !strings.HasSuffix(got, ".qmp") || len(got) > maxSocketPath {
		t.Errorf("deep folder: %s", got)
	}
	if got != monitorPath(deep) || got == monitorPath(deep+"x") {
		t.Error("the fallback name is not a function of the folder")
	}
}

func TestGetURLAndSSHHostname(t *testing.T) {
	d := NewDriver("m", "/store")
	d.NetworkBridge, d.TapName = "kdwvm-none", "kdwqnone"
	if _, err := d.GetURL(); err == nil || !strings.Contains(err.Error(), "machine m has no IP address yet") {
		t.Errorf("no IP: %v", err)
	}
	d.IPAddress = "192.168.90.2"
	url, _ := d.GetURL()
	host, _ := d.GetSSHHostname()
	if url != "tcp://192.168.90.2:2376" || host != "192.168.90.2" {
		t.Errorf("URL %s, SSH host %s", url, host)
	}
}

func TestStateOfQMPStatus(t *testing.T) {
	for status, want := range map[string]state.State{
		"running": state.Running, "paused": state.Paused, "suspended": state.Paused, "shutdown": state.Stopping,
		"prelaunch": state.Starting, "inmigrate": state.Starting, "postmigrate": state.Saved,
		"guest-panicked": state.Error, "internal-error": state.Error, "io-error": state.Error,
	} {
		if got := stateOfStatus(status); got != want {
			t.Errorf("%s: %s, want %s", status, got, want)
		}
	}
}
