// The settings file of a stack that runs on the local test hosts: generic driver over the hosts from hosts.json,
// the test registry for images, the toolchain's folder for binaries. Used by `npm run e2e` and `npm run up:local`:
//   node bin/test/e2e/stackConfig.js <stack> [workers]
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { hostsState, ROOT, WORK } from "./harness";

export const MACHINE_STORAGE = path.join(WORK, "machines");

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
        "kube-dumb-way:machineStoragePath": MACHINE_STORAGE,
        "kube-dumb-way:controllers": 3,
        "kube-dumb-way:workers": workerCount,
        "kube-dumb-way:genericHosts": hosts.slice(0, needed)
            .map(h => ({ address: h.ip, sshUser: h.sshUser, sshKeyPath: h.sshKeyPath })),
        "kube-dumb-way:imageRepository": registry.address,
        "kube-dumb-way:binarySource": binaries,
        // The test hosts are containers on one disk shared with everything else on this machine.
        "kube-dumb-way:diskEviction": false,
    };
    for (const [key, value] of Object.entries(extra)) {
        config[`kube-dumb-way:${key}`] = value;
    }
    // JSON is YAML.
    writeFileSync(file, JSON.stringify({ ...(salt ? { encryptionsalt: salt } : {}), config }, null, 2) + "\n");
}

if (require.main === module) {
    writeStackConfig(process.argv[2], Number(process.argv[3] ?? 3));
}
