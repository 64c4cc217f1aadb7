import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { ClusterConfig, DRIVER_SIZE_FLAGS, NodePlan } from "./config";
import { cgroupDriver, hostFacts, hostLayout, HostLayout, HostProfile } from "./layout";
import { asset, HostConnection, HostFile, hostStep, shellQuote } from "./remote";

export interface MachineHostArgs {
    node: NodePlan;
    cluster: ClusterConfig;
    /** docker-machine's certificates, made once before any machine (see machineCertificates). */
    certificates: command.local.Command;
}

const machineEnvironment = (cluster: ClusterConfig) =>
    cluster.machine.storagePath ? { MACHINE_STORAGE_PATH: cluster.machine.storagePath } : undefined;

/** docker-machine's CA and client certificate, made before the machines are created in parallel. */
export function machineCertificates(cluster: ClusterConfig): command.local.Command {
    return new command.local.Command("docker-machine-certs", {
        create: `sh -c ${shellQuote(asset("machine-certs.sh"))}`,
        environment: machineEnvironment(cluster),
    });
}

/** The docker-machine label that marks a machine as this cluster's, so a re-run may adopt it instead of failing. */
export const clusterLabel = (cluster: ClusterConfig) => `kdw.cluster=${cluster.clusterName}`;

/** `docker-machine create` arguments for one node (without the leading `create`). */
export function machineCreateArgs(node: NodePlan, cluster: ClusterConfig): string[] {
    const m = cluster.machine;
    const sizes = DRIVER_SIZE_FLAGS[m.driver];
    const generic = node.generic;
    return [
        "--driver", m.driver,
        ...(sizes ? [`${sizes.memory}=${m.memoryMb}`, `${sizes.cpus}=${m.cpus}`, `${sizes.disk}=${m.diskMb}`] : []),
        ...(generic ? [
            `--generic-ip-address=${generic.address}`,
            `--generic-ssh-user=${generic.sshUser}`,
            `--generic-ssh-key=${generic.sshKeyPath}`,
            `--generic-ssh-port=${generic.sshPort ?? 22}`,
        ] : []),
        ...m.driverFlags,
        "--engine-label", clusterLabel(cluster),
        node.name,
    ];
}

/** Creates the machine unless this cluster already made it, then prints `{"ip":…,"sshUser":…,"sshKeyPath":…}`. */
export function machineCreateScript(node: NodePlan, cluster: ClusterConfig): string {
    const name = shellQuote(node.name);
    const label = shellQuote(clusterLabel(cluster));
    return [
        "set -e",
        `if docker-machine inspect ${name} >/dev/null 2>&1; then`,
        `  if docker-machine inspect --format '{{range .HostOptions.EngineOptions.Labels}}{{.}} {{end}}' ${name} | grep -qw ${label}; then`,
        `    echo "adopting the existing machine ${node.name}, made earlier for this cluster" >&2`,
        "  else",
        `    echo "a docker-machine named ${node.name} exists and is not this cluster's; remove it or change kube-dumb-way:namePrefix" >&2`,
        "    exit 1",
        "  fi",
        "else",
        `  docker-machine create ${machineCreateArgs(node, cluster).map(shellQuote).join(" ")} >&2`,
        "fi",
        // docker-machine's driver plugins may print "(name) Closing plugin on server side" on stdout: keep the value.
        `value() { docker-machine "$@" | grep -v '^(.*) ' | head -n 1; }`,
        `ip=$(value ip ${name})`,
        `user=$(value inspect --format '{{.Driver.SSHUser}}' ${name})`,
        `key=$(value inspect --format '{{.Driver.SSHKeyPath}}' ${name})`,
        `if [ -z "$ip" ] || [ -z "$user" ] || [ ! -f "$key" ]; then`,
        `  echo "docker-machine did not report the address, SSH user and key of ${node.name} (got '$ip', '$user', '$key')" >&2`,
        "  exit 1",
        "fi",
        // Only now is a driver-assigned address known (the generic driver's are checked with the config).
        ...(cluster.apiServerVip ? [
            `if [ "$ip" = ${cluster.apiServerVip} ]; then`,
            `  echo "kube-dumb-way:apiServerVip ${cluster.apiServerVip} is the address docker-machine gave ${node.name}; the virtual IP must be an address no host has" >&2`,
            "  exit 1",
            "fi",
        ] : []),
        `printf '{"ip":"%s","sshUser":"%s","sshKeyPath":"%s"}\\n' "$ip" "$user" "$key"`,
    ].join("\n");
}

/**
 * One docker-machine host: created (all in parallel), waited for over SSH, probed for its kind (systemd or
 * boot2docker) and prepared. Remote steps on it depend on `ready`.
 */
export class MachineHost extends pulumi.ComponentResource {
    readonly nodeName: string;
    readonly ip: pulumi.Output<string>;
    readonly sshUser: pulumi.Output<string>;
    /** Secret. */
    readonly sshPrivateKey: pulumi.Output<string>;
    readonly profile: pulumi.Output<HostProfile>;
    readonly cgroupDriver: pulumi.Output<"systemd" | "cgroupfs">;
    readonly layout: pulumi.Output<HostLayout>;
    readonly connection: pulumi.Output<HostConnection>;
    /** The host is up, reachable and prepared. */
    readonly ready: command.remote.Command;

    constructor(name: string, args: MachineHostArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dumbway:index:MachineHost", name, {}, opts);
        const { node, cluster } = args;
        this.nodeName = node.name;
        const environment = machineEnvironment(cluster);

        const machine = new command.local.Command(`${name}-machine`, {
            create: machineCreateScript(node, cluster),
            delete: `docker-machine rm --force -y ${shellQuote(node.name)}`,
            environment,
            triggers: [machineCreateArgs(node, cluster).join(" ")],
        }, { parent: this, deleteBeforeReplace: true, dependsOn: [args.certificates] });
        const info = machine.stdout.apply(out => parseMachineInfo(node.name, out));
        this.ip = info.ip;
        this.sshUser = info.sshUser;

        const key = new command.local.Command(`${name}-ssh-key`, {
            create: info.sshKeyPath.apply(p => `cat ${shellQuote(p)}`),
            environment,
            logging: "none",
        }, { parent: this, additionalSecretOutputs: ["stdout"] });
        this.sshPrivateKey = pulumi.secret(key.stdout);

        this.connection = pulumi.secret(pulumi.all([this.ip, this.sshUser, this.sshPrivateKey]).apply(
            ([host, user, privateKey]): HostConnection => ({ host, user, privateKey, port: node.generic?.sshPort ?? 22 })));

        // Waits for SSH (the connection retries while the host boots) and tells what kind of host it is.
        const probe = new command.remote.Command(`${name}-probe`, {
            connection: this.connection.apply(c => ({ ...c, dialErrorLimit: 60, perDialTimeout: 10 })),
            create: `KDW_PROFILE_SETTING=${cluster.hostProfile} sh -c ${shellQuote(asset("probe.sh"))}`,
        }, { parent: this });
        const facts = probe.stdout.apply(hostFacts);
        this.profile = facts.profile;
        this.cgroupDriver = facts.apply(f => cgroupDriver(f.profile, f.cgroup));
        this.layout = this.profile.apply(hostLayout);

        this.ready = hostStep(`${name}-prepare`, {
            connection: this.connection,
            script: asset("host.sh"),
            env: pulumi.all([this.layout, this.sshUser]).apply(([l, user]) => ({
                KDW_PROFILE: l.profile, KDW_HOME: l.home, KDW_ETC: l.etc, KDW_DATA: l.data,
                KDW_RUN: l.run, KDW_SSH_USER: user,
            })),
            files: this.layout.apply(hostFiles),
        }, { parent: this });

        this.registerOutputs({ ip: this.ip, sshUser: this.sshUser, profile: this.profile });
    }
}

/** What every host gets before the cluster's steps: on boot2docker, which has no systemd, the supervisor they use. */
export function hostFiles(layout: HostLayout): HostFile[] {
    return layout.profile === "boot2docker"
        ? [{ path: `${layout.home}/bin/kdw-service`, content: asset("kdw-service.sh"), mode: "0755" }]
        : [];
}

export function parseMachineInfo(name: string, stdout: string): { ip: string; sshUser: string; sshKeyPath: string } {
    try {
        const info = JSON.parse(stdout.trim().split("\n").pop() ?? "");
        if (info.ip && info.sshUser && info.sshKeyPath) {
            return info;
        }
    } catch {
        // fall through to the error below
    }
    throw new Error(`docker-machine did not report the address and SSH settings of ${name}; it printed: ${stdout}`);
}
