// Kubernetes the Dumb Way as a Pulumi program: the stack's config in, the cluster (components/cluster.ts), its outputs
// out. The program's entry (main.ts) calls it with the machines found lost since the last update.
import { KubeCluster } from "./components/cluster";
import { machineSettings } from "./components/machineHost";
import { ConfigError, loadConfig } from "./config";
import { refusal } from "./config/refusal";
import { recordedSnapshotSha256 } from "./config/restore";
import { RunningEncryption } from "./config/upgrade";
import { findUndeclaredMembers } from "./host/etcdMembers";
import { changedMachineProblems, MachineRecord, movedMachineProblems } from "./host/identity";

function readConfig() {
    try {
        return loadConfig();
    } catch (err) {
        // A clean message naming the keys, without a stack trace.
        throw err instanceof ConfigError ? refusal(err.message) : err;
    }
}

/** The sha256 recorded beside the snapshot etcdRestoreSnapshot names; refused (a clean message) when the store lacks it. */
export async function snapshotToRestore(): Promise<string | undefined> {
    try {
        return await recordedSnapshotSha256(readConfig().etcdSnapshots);
    } catch (err) {
        throw err instanceof ConfigError ? refusal(err.message) : err;
    }
}

/**
 * Refuses, before anything is registered, a config that gives a machine the stack runs as one node to another
 * (host/identity.ts `movedMachineProblems`), or running machines settings docker-machine cannot give them
 * (`changedMachineProblems`): every problem named.
 */
export function refuseMachineChanges(recorded: Record<string, MachineRecord>): void {
    const cfg = readConfig();
    const problems = [
        ...movedMachineProblems(recorded, [...cfg.controllers, ...cfg.workers].map(n => ({ name: n.name, address: n.generic?.address }))),
        ...changedMachineProblems(recorded, machineSettings(cfg)),
    ];
    if (problems.length > 0) {
        throw refusal(`Refused (nothing was changed): ${problems.join("\n")}`);
    }
}

/**
 * etcd's members at no declared controller's address, read through the recorded controllers (host/etcdMembers.ts):
 * the membership step's input, with what the stack's last update recorded.
 */
export function undeclaredEtcdMembers(recorded: Record<string, MachineRecord>, recordedInput: unknown): Promise<string> {
    return findUndeclaredMembers(readConfig().controllers.map(n => ({ name: n.name, address: n.generic?.address })),
        recorded, recordedInput);
}

/**
 * The stack. `replacedMachines`: by node name, the machine each found-lost one replaces (host/identity.ts).
 * `runningEncryption`: how the running cluster encrypts Secrets at rest (config/upgrade.ts). `snapshotSha256`: the sha256
 * recorded beside the snapshot etcdRestoreSnapshot names (config/restore.ts). `etcdUndeclaredMembers`: etcd's members found
 * at no declared controller's address (`undeclaredEtcdMembers`).
 */
export function stack(replacedMachines: Record<string, string> = {}, runningEncryption?: RunningEncryption,
    snapshotSha256?: string, etcdUndeclaredMembers = "") {
    const cfg = readConfig();
    if (cfg.etcdSnapshots.restore) {
        cfg.etcdSnapshots.restore.sha256 = snapshotSha256;
    }
    const cluster = new KubeCluster(cfg.clusterName, { config: cfg, replacedMachines, runningEncryption, etcdUndeclaredMembers });
    return {
        kubeconfig: cluster.kubeconfig,
        apiServerEndpoint: cluster.apiServerEndpoint,
        caCertificate: cluster.caCertificate,
        controllers: cluster.controllers,
        workers: cluster.workers,
        kubernetesVersion: cluster.kubernetesVersion,
        secretsEncryption: cluster.secretsEncryption,
        encryptionKeyGeneration: cluster.encryptionKeyGeneration,
        machines: cluster.machines,
        etcdUndeclaredMembersRemoved: cluster.etcdUndeclaredMembersRemoved,
    };
}
