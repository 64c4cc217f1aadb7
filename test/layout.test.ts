// The folders say what kind of code a file is (docs/architecture.md#components): component resources in components/,
// one per file; pure renderers in render/ that make no resource; no component anywhere else.
import * as assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { test } from "node:test";

const ROOT = path.join(__dirname, "..", "..");
const sources = (folder: string) => readdirSync(path.join(ROOT, folder)).filter(f => f.endsWith(".ts"))
    .map(f => ({ file: `${folder}/${f}`, text: readFileSync(path.join(ROOT, folder, f), "utf8") }));
const COMPONENT = /class (\w+) extends pulumi\.ComponentResource\b/g;

test("components/: every file holds exactly one component resource, with a dumbway:index: type token", () => {
    const files = sources("components");
    assert.ok(files.length >= 10, `only ${files.length} files in components/`);
    for (const { file, text } of files) {
        const classes = [...text.matchAll(COMPONENT)].map(m => m[1]);
        assert.equal(classes.length, 1, `${file} defines ${classes.length} component resources (${classes.join(", ")})`);
        assert.match(text, /super\("dumbway:index:\w+"/, `${file} has no dumbway:index: type token`);
    }
});

test("render/, host/, config/ and the entry files define no component resource", () => {
    const others = [...["render", "host", "config"].flatMap(sources),
        ...["index.ts", "main.ts", "api.ts"].map(f => ({ file: f, text: readFileSync(path.join(ROOT, f), "utf8") }))];
    for (const { file, text } of others) {
        assert.deepEqual([...text.matchAll(COMPONENT)].map(m => m[1]), [], `${file} defines a component resource`);
    }
});

test("render/: pure renderers import no resource provider, no component and no host layer", () => {
    for (const { file, text } of sources("render")) {
        const imports = [...text.matchAll(/from "([^"]+)"/g)].map(m => m[1]);
        const resourceMakers = imports.filter(i => /^@pulumi\/(command|tls|kubernetes)|\/components\/|\/host\//.test(i));
        assert.deepEqual(resourceMakers, [], `${file} imports ${resourceMakers.join(", ")}`);
        assert.doesNotMatch(text, /new \w+\.(remote|local)\.Command\(|new tls\./, `${file} makes a resource`);
    }
});
