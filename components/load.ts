import * as pulumi from "@pulumi/pulumi";
import { existsSync } from "fs";
import { ClusterConfig, PROJECT, RawConfig, validateConfig } from "./config";

export const KEYS: (keyof RawConfig)[] = [
    "controllers", "workers", "namePrefix", "machineDriver", "machineMemory", "machineCpus", "machineDiskSize",
    "machineDriverFlags", "machineStoragePath", "genericHosts", "hostProfile", "kubernetesVersion", "etcdVersion",
    "containerdVersion", "runcVersion", "cniPluginsVersion", "crictlVersion", "corednsVersion", "clusterCidr",
    "serviceCidr", "clusterDns", "clusterDomain", "apiServerPort", "apiServerEndpoint", "apiServerVip", "binarySource",
    "binaryChecksums", "imageRepository", "certValidityHours",
    "certRenewBeforeHours", "kubeletEvictionHard",
];

/** Keys whose Pulumi.yaml type is integer, array or object. */
export const STRUCTURED = new Set<keyof RawConfig>([
    "controllers", "workers", "machineMemory", "machineCpus", "machineDiskSize", "machineDriverFlags", "genericHosts",
    "apiServerPort", "binaryChecksums", "certValidityHours", "certRenewBeforeHours",
    "kubeletEvictionHard",
]);

/** Malformed JSON is passed on as text, so that validation names the key and shows the value. */
function parseJson(text: string): unknown {
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
}

/** Reads the stack's config and validates it; a bad config stops the program before any resource is registered. */
export function loadConfig(): ClusterConfig {
    const config = new pulumi.Config(PROJECT);
    const raw: RawConfig = {};
    for (const key of KEYS) {
        const text = config.get(key);
        if (text === undefined) {
            continue;
        }
        // Numbers, lists and objects arrive as JSON; every other key is text as given (a version "1.34" stays text).
        raw[key] = STRUCTURED.has(key) ? parseJson(text) : text;
    }
    return validateConfig(raw, { fileExists: existsSync, defaultBinaryDir: process.env.KDW_BINARY_DIR });
}
