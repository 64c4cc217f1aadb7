package main

import (
	"net"
	"strings"
	"testing"
	"time"
)

func TestQemuCommandLine(t *testing.T) {
	args := strings.Join(qemuArgs(vmSpec{
		Name: "kdw-worker-0", ISO: "/m/boot2docker.iso", Disk: "/m/disk.raw", Tap: "kdwq0a1b2c",
		MAC: "52:54:00:0a:1b:2c", Monitor: "/m/monitor", PidFile: "/m/qemu.pid", Console: "/m/console.log",
		Accelerator: "kvm", MemoryMB: 2048, CPUs: 2,
	}), " ")
	for _, want := range []string{
		"-name kdw-worker-0 ", "-machine pc,accel=kvm -cpu host,-arch-capabilities ", "-smp 2 -m 2048 ", "-nodefaults -display none ",
		"-boot order=d -cdrom /m/boot2docker.iso ",
		"-drive file=/m/disk.raw,if=virtio,format=raw,cache=writeback ",
		"-netdev tap,id=net0,ifname=kdwq0a1b2c,script=no,downscript=no,vhost=off ",
		"-device virtio-net-pci,netdev=net0,mac=52:54:00:0a:1b:2c ", "-device virtio-rng-pci ",
		"-serial file:/m/console.log ", "-qmp unix:/m/monitor,server=on,wait=off ", "-pidfile /m/qemu.pid ",
	} {
		if !strings.Contains(args, want) {
			t.Errorf("command line lacks %q:\n%s", want, args)
		}
	}
	if !strings.HasSuffix(args, " -daemonize") || strings.Contains(args, "-nographic") {
		t.Errorf("qemu must daemonize, and -nographic cannot go with it:\n%s", args)
	}
	if vhost := strings.Join(qemuArgs(vmSpec{Accelerator: "kvm", VhostNet: true}), " "); !strings.Contains(vhost, ",vhost=on ") {
		t.Errorf("with /dev/vhost-net: %s", vhost)
	}
	if tcg := strings.Join(qemuArgs(vmSpec{Accelerator: "tcg"}), " "); !strings.Contains(tcg, "-machine pc,accel=tcg -cpu max ") {
		t.Errorf("software emulation: %s", tcg)
	}
}

func TestProcessChecks(t *testing.T) {
	cmdline := []byte("qemu-system-x86_64\x00-drive\x00file=/m/disk.raw,if=virtio,format=raw\x00-daemonize\x00")
	if !cmdlineRunsDisk(cmdline, "/m/disk.raw") || cmdlineRunsDisk(cmdline, "/m/disk") || cmdlineRunsDisk(cmdline, "/other/disk.raw") {
		t.Error("cmdlineRunsDisk matches the wrong disk")
	}
	if !processIsZombie([]byte("4242 (qemu-system-x86) Z 1 4242")) || processIsZombie([]byte("4242 (a) b) S 1 4242")) {
		t.Error("processIsZombie reads the wrong field")
	}
}

func TestWaitForTCP(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	address := listener.Addr().String()
	alive := func() (int, bool) { return 1, true }
	if err := waitForTCP(address, time.Second, alive); err != nil {
		t.Errorf("listening port: %v", err)
	}
	listener.Close()
	if err := waitForTCP(address, 1500*time.Millisecond, alive); err == nil || !strings.Contains(err.Error(), "accepted no connection within 1.5s") {
		t.Errorf("closed port: %v", err)
	}
	start := time.Now()
	err = waitForTCP(address, time.Minute, func() (int, bool) { return 0, false })
	if err == nil || !strings.Contains(err.Error(), "qemu exited") || time.Since(start) > 5*time.Second {
		t.Errorf("a dead VM is not waited for: %v after %s", err, time.Since(start))
	}
}
