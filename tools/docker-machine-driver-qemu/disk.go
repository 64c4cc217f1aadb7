package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// boot2docker formats a disk that starts with this file name (the first tar header's name field is at offset 0),
// then unpacks the tar into /home/docker.
const formatMeMagic = "boot2docker, please format-me"

// maxDiskTar is what the ISO's first boot reads of the disk before formatting it.
const maxDiskTar = 1 << 20

// seedFolder is where in the tar the --qemu-disk-seed files go; the first boot copies it to /var/lib/boot2docker.
const seedFolder = "boot2docker"

// diskTar is the tar boot2docker finds at the start of a new disk: the magic file, the SSH key for user docker, and
// the seed folder's files under boot2docker/.
func diskTar(pubKey []byte, seedDir string) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(header *tar.Header, data []byte) error {
		header.Size = int64(len(data))
		if err := tw.WriteHeader(header); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	entries := []struct {
		header *tar.Header
		data   []byte
	}{
		{&tar.Header{Name: formatMeMagic, Mode: 0o644, Typeflag: tar.TypeReg}, []byte(formatMeMagic)},
		{&tar.Header{Name: ".ssh/", Mode: 0o700, Typeflag: tar.TypeDir}, nil},
		{&tar.Header{Name: ".ssh/authorized_keys", Mode: 0o644, Typeflag: tar.TypeReg}, pubKey},
		{&tar.Header{Name: ".ssh/authorized_keys2", Mode: 0o644, Typeflag: tar.TypeReg}, pubKey},
	}
	for _, e := range entries {
		if err := add(e.header, e.data); err != nil {
			return nil, err
		}
	}
	if seedDir != "" {
		err := filepath.WalkDir(seedDir, func(path string, entry fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(seedDir, path)
			if err != nil {
				return err
			}
			name := filepath.ToSlash(filepath.Join(seedFolder, rel))
			info, err := entry.Info()
			if err != nil {
				return err
			}
			switch {
			case entry.IsDir():
				return add(&tar.Header{Name: name + "/", Mode: int64(info.Mode().Perm()), Typeflag: tar.TypeDir}, nil)
			case info.Mode().IsRegular():
				data, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				return add(&tar.Header{Name: name, Mode: int64(info.Mode().Perm()), Typeflag: tar.TypeReg}, data)
			default:
				return fmt.Errorf("%s is neither a file nor a folder", path)
			}
		})
		if err != nil {
			return nil, fmt.Errorf("qemu-disk-seed %s: %w: give a folder of plain files", seedDir, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if buf.Len() > maxDiskTar {
		return nil, fmt.Errorf("qemu-disk-seed %s: the disk's tar would be %d bytes, more than the %d the VM reads at first boot: seed only small files such as certificates",
			seedDir, buf.Len(), maxDiskTar)
	}
	return buf.Bytes(), nil
}

// writeDiskImage writes the tar at offset 0 of a new sparse raw image of sizeMB: no qemu-img needed, and the file
// takes only the blocks the guest writes.
func writeDiskImage(path string, tarball []byte, sizeMB int) error {
	size := int64(sizeMB) << 20
	if int64(len(tarball)) > size {
		return fmt.Errorf("disk image %s: %d MB cannot hold its %d-byte tar: raise qemu-disk-size", path, sizeMB, len(tarball))
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("making the disk image: %w: remove the machine (docker-machine rm) and create it again", err)
	}
	if _, err := f.Write(tarball); err != nil {
		f.Close()
		return fmt.Errorf("writing the disk image %s: %w", path, err)
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return fmt.Errorf("sizing the disk image %s to %d MB: %w: check the free space of its file system", path, sizeMB, err)
	}
	return f.Close()
}
