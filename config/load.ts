import * as pulumi from "@pulumi/pulumi";
import { accessSync, constants, existsSync, readFileSync, statSync } from "fs";
import * as path from "path";
import { inspectFolder } from "../host/binaries";
import { nearestName } from "./nearest";
import { Name, RawConfig, SETTINGS } from "./settings";
import { ClusterConfig, ConfigError, PROJECT, ValidationContext } from "./types";
import { validateConfig } from "./validate";

export const KEYS = Object.keys(SETTINGS) as Name[];

/** Keys whose Pulumi.yaml type is integer, array or object. */
export const STRUCTURED = new Set(KEYS.filter(key => SETTINGS[key].type !== "string"));

/**
 * One sentence for each name that is not a setting, with the setting it was probably meant to be: a setting misspelt
 * in a stack's config would otherwise be ignored without a word (Pulumi accepts undeclared keys), and the cluster
 * built with the default.
 */
export function unknownSettings(names: string[]): string[] {
    return names.filter(name => !(KEYS as string[]).includes(name)).map(name => {
        const nearest = nearestName(name, KEYS);
        return `${PROJECT}:${name} is not a setting of this program` +
            (nearest ? `; did you mean ${PROJECT}:${nearest}?` : "; Pulumi.yaml lists the settings.") +
            ` (\`pulumi config rm ${PROJECT}:${name}\` removes it.)`;
    });
}

/**
 * Whether the stack's config holds the key as a secret (a part of it set with `--secret --path` makes the whole key
 * one). The SDK keeps this function internal; without it no secret could be told apart, so its absence is an error.
 */
function isConfigSecret(fullKey: string): boolean {
    const check = (pulumi.runtime as unknown as { isConfigSecret?: (key: string) => boolean }).isConfigSecret;
    if (!check) {
        throw new Error("@pulumi/pulumi no longer has runtime.isConfigSecret, which tells secret settings apart");
    }
    return check(fullKey);
}

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
    const ours = Object.keys(pulumi.runtime.allConfig())
        .filter(k => k.startsWith(`${PROJECT}:`)).map(k => k.slice(PROJECT.length + 1));
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
    return clusterConfig(raw, unknownSettings(ours), key => isConfigSecret(`${PROJECT}:${key}`));
}

/** Whether an executable file of that name is in a folder of PATH (as exec.LookPath finds docker-machine's plugins). */
function onPath(program: string): boolean {
    return (process.env.PATH ?? "").split(path.delimiter).filter(Boolean).some(dir => {
        try {
            accessSync(path.join(dir, program), constants.X_OK);
            return statSync(path.join(dir, program)).isFile();
        } catch {
            return false;
        }
    });
}

/**
 * Settings given in a program rather than a stack's config (the same keys and rules, `kube-dumb-way:` left out),
 * validated against this machine (binary folder, files): for `new KubeCluster(name, { config: clusterConfig({...}) })`.
 * Throws ConfigError naming every key that is wrong, and every name that is not a setting (`unknown`: by default,
 * `raw`'s own names are checked). `isSecret`: whether the stack's config holds a key as a secret (loadConfig's).
 */
export function clusterConfig(raw: RawConfig, unknown = unknownSettings(Object.keys(raw)),
    isSecret?: ValidationContext["isSecret"]): ClusterConfig {
    let problems = unknown;
    try {
        const cfg = validateConfig(raw, {
            fileExists: existsSync,
            defaultBinaryDir: process.env.KDW_BINARY_DIR,
            binaryFolderProblems: (folder, checksums, versions) => inspectFolder(folder, checksums, versions).problems,
            readFile: file => readFileSync(file, "utf8"),
            isSecret,
            onPath,
        });
        if (problems.length === 0) {
            return cfg;
        }
    } catch (err) {
        if (!(err instanceof ConfigError)) {
            throw err;
        }
        // Reported with the other problems, all at once.
        problems = [...unknown, ...err.problems];
    }
    throw new ConfigError(problems);
}
