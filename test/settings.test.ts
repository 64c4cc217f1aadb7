// The settings' table (config/settings.ts) is the one place a setting is written.
import * as assert from "node:assert/strict";
import { test } from "node:test";
import { RawConfig, SETTINGS, validateConfig } from "../config";

test("a setting given as null takes its default, as one not given", () => {
    const nulls = Object.fromEntries(Object.keys(SETTINGS).map(name => [name, null])) as RawConfig;
    const ctx = { fileExists: () => true, defaultBinaryDir: "/bin" };
    assert.deepEqual(validateConfig(nulls, ctx), validateConfig({}, ctx));
});
