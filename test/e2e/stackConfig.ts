// The settings file of a stack that runs on the local test hosts: generic driver over the hosts from hosts.json,
// the test registry for images, the toolchain's folder for binaries, a virtual IP for the API on the test network,
// and the set's object store for etcd snapshots when it runs (`scripts/hosts.sh object-store`), its secret key set as a
// secret with the Pulumi CLI (which makes the stack when there is none yet).
// Used by `npm run e2e` and `npm run up:local`:
//   node bin/test/e2e/stackConfig.js <stack> [workers]
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { hostsState, ROOT, WORK } from "./harness";

/** docker-machine's store of one stack's machines: each suite's own, so that suites can run side by side. */
export const machineStorage = (stack: string) => path.join(WORK, "machines", stack);

/** The API's virtual IP on the test network: .250 of the hosts' /24, where scripts/hosts.sh puts no host (.10 + i). */
export function testVip(): string {
    return hostsState().hosts[0].ip.replace(/\.\d+$/, ".250");
}

/** The set's object store (object-store.json, written by `scripts/hosts.sh object-store`); none when it does not run. */
export function objectStore(): { endpoint: string; bucket: string; accessKeyId: string; secretAccessKey: string; caCertFile: string } | undefined {
    const file = path.join(hostsState().stateDir, "object-store.json");
    return existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : undefined;
}

/** Controllers are hosts 0-2, workers 3-5, and host 6 is the worker added by the scale test. */
export function writeStackConfig(stack: string, workerCount: number, extra: Record<string, unknown> = {}): void {
    const { hosts, registry } = hostsState();
    const needed = 3 + workerCount;
    if (hosts.length < needed) {
        throw new Error(`${needed} test hosts needed, ${hosts.length} up: npm run hosts:up -- ${needed}`);
    }
    const binaries = process.env.KDW_BINARY_DIR;
    if (!binaries) {
        throw new Error("KDW_BINARY_DIR is not set: run `source scripts/env.sh` first");
    }
    const file = path.join(ROOT, `Pulumi.${stack}.yaml`);
    // Pulumi keeps the stack's encryption salt in this file; carry it over.
    const salt = existsSync(file) ? /^encryptionsalt: (.*)$/m.exec(readFileSync(file, "utf8"))?.[1] : undefined;
    const config: Record<string, unknown> = {
        "kube-dumb-way:machineDriver": "generic",
        "kube-dumb-way:machineStoragePath": machineStorage(stack),
        "kube-dumb-way:controllers": 3,
        "kube-dumb-way:workers": workerCount,
        "kube-dumb-way:genericHosts": hosts.slice(0, needed)
            .map(h => ({ address: h.ip, sshUser: h.sshUser, sshKeyPath: h.sshKeyPath })),
        "kube-dumb-way:imageRepository": registry.address,
        "kube-dumb-way:binarySource": binaries,
        // The test hosts share this machine's disk, whose free share is not theirs to judge: evict only when it is nearly full.
        "kube-dumb-way:kubeletEvictionHard": { "imagefs.available": "2%", "nodefs.available": "2%" },
        "kube-dumb-way:apiServerVip": testVip(),
    };
    for (const [key, value] of Object.entries(extra)) {
        config[`kube-dumb-way:${key}`] = value;
    }
    const store = "etcdSnapshotStore" in extra ? undefined : objectStore();
    if (store) {
        const { secretAccessKey: _, ...open } = store;
        config["kube-dumb-way:etcdSnapshotStore"] = open;
    }
    // JSON is YAML.
    writeFileSync(file, JSON.stringify({ ...(salt ? { encryptionsalt: salt } : {}), config }, null, 2) + "\n");
    if (store) {
        // A secret is set in a stack that exists: a suite may write its settings before it makes its stack.
        const stacks = JSON.parse(execFileSync("pulumi", ["stack", "ls", "--json", "--cwd", ROOT], { encoding: "utf8" })) as { name: string }[];
        if (!stacks.some(s => s.name === stack)) {
            execFileSync("pulumi", ["stack", "init", "--no-select", stack, "--cwd", ROOT], { stdio: ["ignore", "ignore", "inherit"] });
        }
        // The secret key from stdin, never on a command line.
        execFileSync("pulumi", ["config", "set", "--secret", "--path", "--stack", stack, "--cwd", ROOT,
            "kube-dumb-way:etcdSnapshotStore.secretAccessKey"], { input: store.secretAccessKey, stdio: ["pipe", "ignore", "inherit"] });
    }
}

if (require.main === module) {
    writeStackConfig(process.argv[2], Number(process.argv[3] ?? 3));
}
