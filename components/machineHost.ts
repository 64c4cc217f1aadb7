import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { ClusterConfig, NodePlan, VM_DRIVER_FLAGS } from "../config/types";
import { cgroupDriver, hostFacts, hostLayout, HostLayout, HostProfile, layoutEnv } from "../render/layout";
import { MachineRecord } from "../host/identity";
import { asRoot, envAssignments, HostConnection, HostFile, hostScript, hostStep, localScript, shellQuote, withLibraries } from "../host/remote";

export interface MachineHostArgs {
    node: NodePlan;
    cluster: ClusterConfig;
    /** docker-machine's certificates, made once before any machine (see machineCertificates). */
    certificates: command.local.Command;
    /**
     * What the cluster's data on the host is signed or encrypted with (the CAs, the encryption key). The host's sweep
     * waits for them, and so goes before them in a destroy: one cut short never leaves host data whose keys are gone.
     */
    clusterKeys: pulumi.Resource[];
    /**
     * The id of the machine this one replaces, when the host at its address was found to be another machine (the old
     * one lost; host/identity.ts): the machine is then made again, and every step on it installs afresh.
     */
    replaces?: string;
}

const machineEnvironment = (cluster: ClusterConfig) =>
    cluster.machine.storagePath ? { MACHINE_STORAGE_PATH: cluster.machine.storagePath } : undefined;

/** The docker-machine label that marks a machine as this cluster's, so a re-run may adopt it instead of failing. */
export const clusterLabel = (cluster: ClusterConfig) => `kdw.cluster=${cluster.clusterName}`;

/**
 * docker-machine's CA and client certificate, made before the machines are created in parallel. Being made before
 * every machine, it goes after all of them: its delete removes the cluster's machines that Pulumi does not know of
 * (their create was interrupted).
 */
export function machineCertificates(cluster: ClusterConfig, opts?: pulumi.CustomResourceOptions): command.local.Command {
    const script = shellQuote(localScript("machine-certs.sh"));
    return new command.local.Command("docker-machine-certs", {
        create: `sh -c ${script} kdw up`,
        delete: `sh -c ${script} kdw down`,
        environment: { ...machineEnvironment(cluster), KDW_CLUSTER_LABEL: clusterLabel(cluster) },
    }, opts);
}

/**
 * The machine settings docker-machine makes a machine with and cannot change after, by config key (recorded with each
 * machine, host/identity.ts changedMachineProblems): the driver, a VM driver's size and ISO, and the driver's extra
 * flags, but the generic driver's, which only provision an existing machine's Docker.
 */
export function machineSettings(cluster: ClusterConfig): Record<string, string> {
    const m = cluster.machine;
    return {
        machineDriver: m.driver,
        ...(VM_DRIVER_FLAGS[m.driver] ? {
            machineMemory: String(m.memoryMb), machineCpus: String(m.cpus), machineDiskSize: String(m.diskMb), machineIso: m.iso ?? "",
        } : {}),
        ...(m.driver === "generic" ? {} : { machineDriverFlags: m.driverFlags.join(" ") }),
    };
}

/** `docker-machine create` arguments for one node (without the leading `create`). */
export function machineCreateArgs(node: NodePlan, cluster: ClusterConfig): string[] {
    const m = cluster.machine;
    const vm = VM_DRIVER_FLAGS[m.driver];
    const generic = node.generic;
    return [
        "--driver", m.driver,
        ...(vm ? [`${vm.memory}=${m.memoryMb}`, `${vm.cpus}=${m.cpus}`, `${vm.disk}=${m.diskMb}`] : []),
        ...(vm && m.iso ? [`${vm.iso}=${m.iso}`] : []),
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

/**
 * Starts Docker on a host where it is installed but not running. docker-machine's provisioner stops Docker, installs its
 * certificates and configuration, then restarts it, each a command of its own: a create killed in between leaves
 * Docker stopped, and the next create then waits in vain for it. docker-machine starts Docker on the host anyway; this
 * only does it first. (systemd's unit; else an init script, as on boot2docker, run with its stdin not the SSH
 * session's, which dockerd would otherwise hold open.)
 */
const DOCKER_WAKE = [
    "said() { echo 'starting Docker, left stopped by an interrupted create'; }",
    "if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then",
    "  if systemctl cat docker.service >/dev/null 2>&1 && ! systemctl is-active --quiet docker; then said; sudo -n systemctl start docker; fi",
    "elif [ -x /etc/init.d/docker ] && ! sudo -n /etc/init.d/docker status >/dev/null 2>&1; then",
    "  said; sudo -n /etc/init.d/docker start </dev/null",
    "fi",
].join("\n");

/**
 * Creates the machine, then prints `{"ip":…,"sshUser":…,"sshKeyPath":…}`. A machine of this name that this cluster
 * made earlier (Pulumi forgets a create it did not see finish) is adopted when docker-machine can reach its Docker,
 * and otherwise, left half-made, removed and made again.
 */
export function machineCreateScript(node: NodePlan, cluster: ClusterConfig): string {
    const name = shellQuote(node.name);
    const label = shellQuote(clusterLabel(cluster));
    const generic = node.generic;
    return [
        "set -e",
        ...(generic ? [
            // Docker started again where a killed create left it stopped (DOCKER_WAKE).
            `ssh -i ${shellQuote(generic.sshKeyPath)} -p ${generic.sshPort ?? 22} -o BatchMode=yes -o StrictHostKeyChecking=no ` +
            `-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=10 ${shellQuote(`${generic.sshUser}@${generic.address}`)} ` +
            shellQuote(DOCKER_WAKE) + " >&2 || true",
        ] : []),
        `create() { docker-machine create ${machineCreateArgs(node, cluster).map(shellQuote).join(" ")} >&2; }`,
        `if docker-machine inspect ${name} >/dev/null 2>&1; then`,
        `  if ! docker-machine inspect --format '{{range .HostOptions.EngineOptions.Labels}}{{.}} {{end}}' ${name} | grep -qw ${label}; then`,
        `    echo "a docker-machine named ${node.name} exists and is not this cluster's; remove it or change kube-dumb-way:namePrefix" >&2`,
        "    exit 1",
        `  elif docker-machine env ${name} >/dev/null 2>&1; then`,
        `    echo "adopting the existing machine ${node.name}, made earlier for this cluster" >&2`,
        "  else",
        `    echo "making ${node.name} again: an interrupted create left it half-made" >&2`,
        `    docker-machine rm --force -y ${name} >&2`,
        "    create",
        "  fi",
        "else",
        "  create",
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
    /** The machine's identity: another value means a new machine, which its steps install afresh. */
    readonly machineId: pulumi.Output<string>;
    readonly ip: pulumi.Output<string>;
    readonly sshUser: pulumi.Output<string>;
    /** Where docker-machine keeps the machine's SSH key, on the machine running Pulumi. */
    readonly sshKeyPath: pulumi.Output<string>;
    readonly sshPort: number;
    /** Secret. */
    readonly sshPrivateKey: pulumi.Output<string>;
    readonly profile: pulumi.Output<HostProfile>;
    readonly cgroupDriver: pulumi.Output<"systemd" | "cgroupfs">;
    readonly layout: pulumi.Output<HostLayout>;
    readonly connection: pulumi.Output<HostConnection>;
    /** The host is up, reachable and prepared. */
    readonly ready: command.remote.Command;
    /** What the stack records of the machine once it is prepared, to check at the next update that it is still there. */
    readonly record: pulumi.Output<MachineRecord>;

    constructor(name: string, args: MachineHostArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dumbway:index:MachineHost", name, {}, opts);
        const { node, cluster } = args;
        this.nodeName = node.name;
        const environment = machineEnvironment(cluster);

        // A machine made to replace a lost one: the one replaced is part of what makes it, and what reads the machine
        // (its key, its kind) is read again. Only then: an earlier machine's steps keep their inputs as they were.
        const replaces = args.replaces ? [`replaces ${args.replaces}`] : [];
        const machine = new command.local.Command(`${name}-machine`, {
            create: machineCreateScript(node, cluster),
            delete: `docker-machine rm --force -y ${shellQuote(node.name)}`,
            environment,
            triggers: [machineCreateArgs(node, cluster).join(" "), ...replaces],
        }, { parent: this, deleteBeforeReplace: true, dependsOn: [args.certificates] });
        const afterReplacement = replaces.length > 0 ? [machine.id] : undefined;
        this.machineId = machine.id;
        const info = machine.stdout.apply(out => parseMachineInfo(node.name, out));
        // An existing machine's address is the config's: what is made from it (certificates with its address, etcd's
        // member list) does not wait for the machine, and stays as it is when the machine is made again over a lost
        // one. (Made after a delete, the machine's outputs are unknown until then, and Pulumi would replace everything
        // that takes them and replaces on a change: every certificate naming a controller's address, on every host.)
        this.ip = node.generic ? pulumi.output(node.generic.address) : info.ip;
        this.sshUser = info.sshUser;
        this.sshKeyPath = info.sshKeyPath;
        this.sshPort = node.generic?.sshPort ?? 22;

        const key = new command.local.Command(`${name}-ssh-key`, {
            create: info.sshKeyPath.apply(p => `cat ${shellQuote(p)}`),
            environment,
            logging: "none",
            triggers: afterReplacement,
        }, { parent: this, additionalSecretOutputs: ["stdout"] });
        this.sshPrivateKey = pulumi.secret(key.stdout);

        this.connection = pulumi.secret(pulumi.all([this.ip, this.sshUser, this.sshPrivateKey]).apply(
            ([host, user, privateKey]): HostConnection => ({ host, user, privateKey, port: this.sshPort })));

        // Waits for SSH (the connection retries while the host boots) and tells what kind of host it is. Made before
        // anything is written to the host, it is the last step there to go: its delete sweeps the host. A machine made
        // again is probed again, its old probe gone first (sweeping the new machine, which has nothing yet).
        const probe = new command.remote.Command(`${name}-probe`, {
            connection: this.connection.apply(c => ({ ...c, dialErrorLimit: 60, perDialTimeout: 10 })),
            create: probeCommand(cluster),
            delete: sweepCommand(cluster),
            triggers: afterReplacement,
        }, { parent: this, dependsOn: args.clusterKeys, deleteBeforeReplace: true });
        const facts = probe.stdout.apply(hostFacts);
        this.profile = facts.profile;
        this.cgroupDriver = facts.apply(f => cgroupDriver(f.profile, f.cgroup));
        this.layout = this.profile.apply(hostLayout);

        this.ready = hostStep(`${name}-prepare`, {
            connection: this.connection,
            script: hostScript("host.sh"),
            libraries: HOST_SCRIPT_LIBRARIES,
            env: pulumi.all([this.layout, this.sshUser]).apply(([l, user]) => ({
                ...layoutEnv(l, cluster.clusterCidr), KDW_SSH_USER: user,
            })),
            files: this.layout.apply(hostFiles),
            machineId: this.machineId,
        }, { parent: this });

        this.record = pulumi.all([this.ip, this.sshUser, this.sshKeyPath, this.machineId, this.ready.id]).apply(
            ([ip, sshUser, sshKeyPath, id]): MachineRecord => ({
                ip, sshUser, sshKeyPath, sshPort: this.sshPort, id, replaces: args.replaces ?? "", settings: machineSettings(cluster),
            }));

        this.registerOutputs({ ip: this.ip, sshUser: this.sshUser, profile: this.profile });
    }
}

/** The libraries host.sh uses. */
export const HOST_SCRIPT_LIBRARIES = ["lib-cleanup.sh"];

const probeCommand = (cluster: ClusterConfig) =>
    `KDW_PROFILE_SETTING=${cluster.hostProfile} sh -c ${shellQuote(hostScript("probe.sh"))}`;

/**
 * Removes everything the cluster can have put on the host, whatever the state says: finds out what kind of host it is
 * as the probe does, then runs host.sh's `down` with that kind's layout. A host of no known kind has nothing of ours.
 */
export function sweepCommand(cluster: ClusterConfig): string {
    const layout = (profile: HostProfile) => `set -- ${envAssignments(layoutEnv(hostLayout(profile), cluster.clusterCidr))}`;
    return [
        `facts=$(${probeCommand(cluster)} 2>/dev/null) || exit 0`,
        `case "$facts" in`,
        `"profile=systemd "*) ${layout("systemd")} ;;`,
        `"profile=boot2docker "*) ${layout("boot2docker")} ;;`,
        "*) exit 0 ;;",
        "esac",
        asRoot(withLibraries(hostScript("host.sh"), HOST_SCRIPT_LIBRARIES), "down", `"$@"`),
    ].join("\n");
}

/** What every host gets before the cluster's steps: on boot2docker, which has no systemd, the supervisor they use. */
export function hostFiles(layout: HostLayout): HostFile[] {
    return layout.profile === "boot2docker"
        ? [{ path: `${layout.home}/bin/kdw-service`, content: hostScript("kdw-service.sh"), mode: "0755" }]
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
