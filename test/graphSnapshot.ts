// Runs index.ts under mocks for one config in a process of its own (index.ts runs once per process) and writes what
// the engine would compare between two runs: every custom resource with a digest of each of its inputs.
//   node bin/test/graphSnapshot.js '<config as JSON>' <output file>
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { runProgram } from "./program";

export interface Snapshot {
    components: { type: string; name: string }[];
    /** Custom resources by name (type::name where names repeat across types): input name → digest of its value. */
    resources: Record<string, { type: string; inputs: Record<string, string> }>;
}

async function main() {
    const [config, out] = process.argv.slice(2);
    const { resources, error } = await runProgram(JSON.parse(config));
    if (error) {
        throw error;
    }
    const digest = (value: unknown) => createHash("sha256").update(JSON.stringify(value) ?? "undefined").digest("hex");
    const snapshot: Snapshot = { components: [], resources: {} };
    for (const r of resources) {
        if (r.type.startsWith("dumbway:")) {
            snapshot.components.push({ type: r.type, name: r.name });
        } else {
            const key = resources.filter(o => o.name === r.name).length > 1 ? `${r.type}::${r.name}` : r.name;
            if (snapshot.resources[key]) {
                throw new Error(`two resources ${key}`);
            }
            snapshot.resources[key] = {
                type: r.type,
                inputs: Object.fromEntries(Object.entries(r.inputs).map(([k, v]) => [k, digest(v)])),
            };
        }
    }
    writeFileSync(out, JSON.stringify(snapshot));
}

main().catch(err => {
    console.error(err);
    process.exit(1);
});
