package main

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestDiskImageStartsWithTheTarAndIsSparse(t *testing.T) {
	seed := t.TempDir()
	os.MkdirAll(filepath.Join(seed, "certs"), 0o755)
	os.WriteFile(filepath.Join(seed, "certs", "registry-ca.pem"), []byte("CA"), 0o644)
	os.WriteFile(filepath.Join(seed, "bootlocal.sh"), []byte("#!/bin/sh\n"), 0o755)
	tarball, err := diskTar([]byte("ssh-rsa AAAA key\n"), seed)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "disk.raw")
	if err := writeDiskImage(path, tarball, 1024); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(path)
	data := make([]byte, 1<<20)
	io.ReadFull(f, data)
	f.Close()
	if !bytes.HasPrefix(data, []byte(formatMeMagic)) {
		t.Errorf("the disk starts with %q, not boot2docker's magic", data[:32])
	}
	var stat syscall.Stat_t
	syscall.Stat(path, &stat)
	if stat.Size != 1024<<20 || stat.Blocks*512 > 1<<20 {
		t.Errorf("size %d, allocated %d bytes: want 1 GiB, sparse", stat.Size, stat.Blocks*512)
	}
	files := map[string]string{}
	reader := tar.NewReader(bytes.NewReader(data))
	for {
		header, err := reader.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		content, _ := io.ReadAll(reader)
		files[header.Name] = string(content) + "|" + header.FileInfo().Mode().String()
	}
	for name, want := range map[string]string{
		formatMeMagic:                       formatMeMagic + "|-rw-r--r--",
		".ssh/":                             "|drwx------",
		".ssh/authorized_keys":              "ssh-rsa AAAA key\n|-rw-r--r--",
		".ssh/authorized_keys2":             "ssh-rsa AAAA key\n|-rw-r--r--",
		"boot2docker/certs/registry-ca.pem": "CA|-rw-r--r--",
		"boot2docker/bootlocal.sh":          "#!/bin/sh\n|-rwxr-xr-x",
	} {
		if files[name] != want {
			t.Errorf("%s: %q, want %q", name, files[name], want)
		}
	}
	if err := writeDiskImage(path, tarball, 1024); err == nil || !strings.Contains(err.Error(), "docker-machine rm") {
		t.Errorf("an existing disk is overwritten: %v", err)
	}
}

func TestDiskSeedLimits(t *testing.T) {
	seed := t.TempDir()
	os.WriteFile(filepath.Join(seed, "big"), make([]byte, maxDiskTar), 0o644)
	if _, err := diskTar([]byte("key"), seed); err == nil || !strings.Contains(err.Error(), "more than the 1048576 the VM reads") {
		t.Errorf("an oversized seed: %v", err)
	}
	os.Remove(filepath.Join(seed, "big"))
	os.Symlink("/etc/passwd", filepath.Join(seed, "link"))
	if _, err := diskTar([]byte("key"), seed); err == nil || !strings.Contains(err.Error(), "neither a file nor a folder") {
		t.Errorf("a symlink in the seed: %v", err)
	}
	if _, err := diskTar([]byte("key"), ""); err != nil {
		t.Errorf("no seed: %v", err)
	}
}
