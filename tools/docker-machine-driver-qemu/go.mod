module kube-dumb-way/tools/docker-machine-driver-qemu

go 1.25.0

require github.com/rancher/machine v0.15.0-rancher140

require (
	github.com/Azure/go-ansiterm v0.0.0-20250102033503-faa5f7b0171c // indirect
	github.com/moby/term v0.5.2 // indirect
	golang.org/x/crypto v0.44.0 // indirect
	golang.org/x/sys v0.38.0 // indirect
	golang.org/x/term v0.37.0 // indirect
)
