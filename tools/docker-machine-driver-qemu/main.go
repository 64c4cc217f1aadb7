// docker-machine-driver-qemu is a docker-machine driver plugin (`--driver qemu`) for qemu/KVM VMs that boot a
// boot2docker ISO on one host bridge with a DHCP server of their own. docker-machine finds it on PATH and starts it
// for every command; nothing may be printed to stdout before RegisterDriver prints the RPC address.
package main

import "github.com/rancher/machine/libmachine/drivers/plugin"

func main() {
	plugin.RegisterDriver(NewDriver("", ""))
}
