import * as pulumi from "@pulumi/pulumi";
import { existsSync } from "fs";
import { ClusterConfig, PROJECT, RawConfig, validateConfig } from "./config";

const KEYS: (keyof RawConfig)[] = [
    "controllers", "workers", "namePrefix", "machineDriver", "machineMemory", "machineCpus", "machineDiskSize",
    "machineDriverFlags", "machineStoragePath", "genericHosts", "hostProfile", "kubernetesVersion", "etcdVersion",
    "containerdVersion", "runcVersion", "cniPluginsVersion", "crictlVersion", "corednsVersion", "clusterCidr",
    "serviceCidr", "clusterDns", "clusterDomain", "apiServerPort", "apiServerEndpoint", "binarySource",
    "binaryChecksums", "imageRepository", "certValidityHours",
];

/** Reads the stack's config and validates it; a bad config stops the program before any resource is registered. */
export function loadConfig(): ClusterConfig {
    const config = new pulumi.Config(PROJECT);
    const raw: RawConfig = {};
    for (const key of KEYS) {
        const text = config.get(key);
        if (text === undefined) {
            continue;
        }
        try {
            raw[key] = JSON.parse(text);
        } catch {
            raw[key] = text;
        }
        // Strings that look like numbers stay strings where a string is expected.
        if (typeof raw[key] === "number" && /Version$|^namePrefix$|^clusterDns$/.test(key)) {
            raw[key] = text;
        }
    }
    return validateConfig(raw, { fileExists: existsSync, defaultBinaryDir: process.env.KDW_BINARY_DIR });
}
