// Where the cluster lives on a host. boot2docker keeps only /var/lib/boot2docker across reboots, so everything the
// cluster needs after a reboot goes there; systemd hosts use the usual places.
export type HostProfile = "systemd" | "boot2docker";

export interface HostLayout {
    profile: HostProfile;
    /** Binaries, the boot hook and its steps. */
    home: string;
    /** Configuration and key material (mode 0700). */
    etc: string;
    /** etcd data, containerd's root, CNI allocations. */
    data: string;
    /** Sockets and runtime state. */
    run: string;
    kubeletDir: string;
}

export function hostLayout(profile: HostProfile): HostLayout {
    if (profile === "boot2docker") {
        const home = "/var/lib/boot2docker/kdw";
        return { profile, home, etc: `${home}/etc`, data: `${home}/data`, run: "/var/run/kdw", kubeletDir: `${home}/data/kubelet` };
    }
    return { profile, home: "/opt/kdw", etc: "/etc/kdw", data: "/var/lib/kdw", run: "/run/kdw", kubeletDir: "/var/lib/kubelet" };
}

/** Parses the probe's `profile=<p> cgroup=<v>` line; `setting` (from config) wins over detection unless it is auto. */
export function hostFacts(probeOutput: string, setting: string): { profile: HostProfile; cgroup: "v1" | "v2" } {
    const profileMatch = /profile=(\S+)/.exec(probeOutput);
    const cgroup = /cgroup=v2/.test(probeOutput) ? "v2" : "v1";
    const detected = profileMatch?.[1];
    const profile = setting === "auto" ? detected : setting;
    if (profile !== "systemd" && profile !== "boot2docker") {
        throw new Error(`the host is neither a systemd host nor boot2docker (probe said "${probeOutput.trim()}"); ` +
            `set kube-dumb-way:hostProfile to systemd or boot2docker`);
    }
    return { profile, cgroup };
}

/** kubelet and containerd must agree; systemd's driver only where systemd owns a unified (v2) hierarchy. */
export function cgroupDriver(profile: HostProfile, cgroup: "v1" | "v2"): "systemd" | "cgroupfs" {
    return profile === "systemd" && cgroup === "v2" ? "systemd" : "cgroupfs";
}
