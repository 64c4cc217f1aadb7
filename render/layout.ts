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
    /** Control-plane and (boot2docker) service logs. */
    logs: string;
    /**
     * The apiservers' audit log. On boot2docker on the persistent disk: its /var/log is in memory, where up to 1.1 GB of
     * audit log (--audit-log-maxsize=100 MB, kept 10 times over as the CIS benchmark asks) would take half of a 2 GB
     * machine's memory, and a reboot would lose the audit trail.
     */
    auditLogs: string;
    /** systemd: where unit files go. */
    units: string;
    /** boot2docker: the script it runs at boot, which calls the cluster's boot hook. */
    bootlocal: string;
}

export function hostLayout(profile: HostProfile): HostLayout {
    if (profile === "boot2docker") {
        const home = "/var/lib/boot2docker/kdw";
        return {
            profile, home, etc: `${home}/etc`, data: `${home}/data`, run: "/var/run/kdw", kubeletDir: `${home}/data/kubelet`,
            logs: "/var/log/kdw", auditLogs: `${home}/data/audit`, units: "", bootlocal: "/var/lib/boot2docker/bootlocal.sh",
        };
    }
    return {
        profile, home: "/opt/kdw", etc: "/etc/kdw", data: "/var/lib/kdw", run: "/run/kdw", kubeletDir: "/var/lib/kubelet",
        logs: "/var/log/kdw", auditLogs: "/var/log/kdw", units: "/etc/systemd/system", bootlocal: "",
    };
}

/**
 * The layout as the environment of host scripts. Every script that installs or removes something gets all of it, so
 * that its `down` can find whatever the cluster may have put on the host (see host/scripts/README.md).
 */
export function layoutEnv(l: HostLayout, clusterCidr: string): Record<string, string> {
    return {
        KDW_PROFILE: l.profile, KDW_HOME: l.home, KDW_ETC: l.etc, KDW_DATA: l.data, KDW_RUN: l.run,
        KDW_KUBELET_DIR: l.kubeletDir, KDW_LOGS: l.logs, KDW_UNITS: l.units, KDW_BOOTLOCAL: l.bootlocal,
        KDW_CLUSTER_CIDR: clusterCidr,
    };
}

/** Parses the probe's `profile=<p> cgroup=<v>` line (the probe itself fails on a host of no known kind). */
export function hostFacts(probeOutput: string): { profile: HostProfile; cgroup: "v1" | "v2" } {
    const profile = /profile=(\S+)/.exec(probeOutput)?.[1];
    if (profile !== "systemd" && profile !== "boot2docker") {
        throw new Error(`unexpected host probe output: "${probeOutput.trim()}"`);
    }
    return { profile, cgroup: /cgroup=v2/.test(probeOutput) ? "v2" : "v1" };
}

/** kubelet and containerd must agree; systemd's driver only where systemd owns a unified (v2) hierarchy. */
export function cgroupDriver(profile: HostProfile, cgroup: "v1" | "v2"): "systemd" | "cgroupfs" {
    return profile === "systemd" && cgroup === "v2" ? "systemd" : "cgroupfs";
}
