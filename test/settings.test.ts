// The settings' table (config/settings.ts) is the one place a setting is written: Pulumi.yaml's schema and the docs'
// reference must say what it says.
import * as assert from "node:assert/strict";
import * as yaml from "js-yaml";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { RawConfig, SETTINGS, validateConfig } from "../config";
import { DOCS, withSettings } from "../scripts/gen-config-docs";


test("Pulumi.yaml declares every setting, in the table's order, with its type, default and description, and nothing else", () => {
    const declared = (yaml.load(readFileSync(path.join(__dirname, "..", "..", "Pulumi.yaml"), "utf8")) as { config: object }).config;
    const expected = Object.fromEntries(Object.entries(SETTINGS).map(([name, s]) => [name, {
        ...(s.type.endsWith("[]") ? { type: "array", items: { type: s.type.slice(0, -2) } } : { type: s.type }),
        default: s.default,
        description: s.description,
    }]));
    assert.deepEqual(Object.keys(declared), Object.keys(expected));
    assert.deepEqual(declared, expected);
});

test("docs/configuration.md's table of settings is the one `npm run docs:config` writes", () => {
    const docs = readFileSync(DOCS, "utf8");
    assert.equal(docs, withSettings(docs), "the docs are stale: run `npm run docs:config`");
});

test("a setting given as null takes its default, as one not given", () => {
    const nulls = Object.fromEntries(Object.keys(SETTINGS).map(name => [name, null])) as RawConfig;
    const ctx = { fileExists: () => true, defaultBinaryDir: "/bin" };
    assert.deepEqual(validateConfig(nulls, ctx), validateConfig({}, ctx));
});
