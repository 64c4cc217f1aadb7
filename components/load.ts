import * as pulumi from "@pulumi/pulumi";
import { existsSync } from "fs";
import { inspectFolder } from "./binaries";
import { ClusterConfig, PROJECT, RawConfig, validateConfig } from "./config";

export const KEYS: (keyof RawConfig)[] = [
    "controllers", "workers", "namePrefix", "machineDriver", "machineMemory", "machineCpus", "machineDiskSize",
    "machineDriverFlags", "machineStoragePath", "genericHosts", "hostProfile", "kubernetesVersion", "etcdVersion",
    "containerdVersion", "runcVersion", "cniPluginsVersion", "crictlVersion", "corednsVersion", "clusterCidr",
    "serviceCidr", "clusterDns", "clusterDomain", "apiServerPort", "apiServerEndpoint", "apiServerVip", "binarySource",
    "binaryChecksums", "imageRepository", "certValidityHours",
    "certRenewBeforeHours", "drainTimeoutSeconds", "apiServerExtraArgs", "kubeletEvictionHard",
];

/** Keys whose Pulumi.yaml type is integer, array or object. */
export const STRUCTURED = new Set<keyof RawConfig>([
    "controllers", "workers", "machineMemory", "machineCpus", "machineDiskSize", "machineDriverFlags", "genericHosts",
    "apiServerPort", "binaryChecksums", "certValidityHours", "certRenewBeforeHours",
    "drainTimeoutSeconds", "apiServerExtraArgs", "kubeletEvictionHard",
]);

/** Malformed JSON is passed on as text, so that validation names the key and shows the value. */
function parseJson(text: string): unknown {
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
}

/**
 * Reads the stack's config and validates it, the binary folder's contents included; a bad config stops the program
 * before any resource is registered.
 */
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
    return clusterConfig(raw);
}

/**
 * Settings given in a program rather than a stack's config (the same keys and rules, `kube-dumb-way:` left out),
 * validated against this machine (binary folder, files): for `new KubeCluster(name, { config: clusterConfig({...}) })`.
 * Throws ConfigError naming every key that is wrong.
 */
export function clusterConfig(raw: RawConfig): ClusterConfig {
    return validateConfig(raw, {
        fileExists: existsSync,
        defaultBinaryDir: process.env.KDW_BINARY_DIR,
        binaryFolderProblems: (folder, checksums, versions) => inspectFolder(folder, checksums, versions).problems,
    });
}
