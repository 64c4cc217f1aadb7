// The e2e cluster made afresh by the real CLI and providers through the Automation API (an earlier one destroyed
// first), and its secrets: no key material anywhere a user or the state shows it in the clear.
import * as assert from "node:assert/strict";
import { freshClusterStack, STACK, upCheck } from "../e2eCluster";
import { ROOT, run } from "../harness";
import { Scenario } from "../scenario";
import { keyMaterial } from "../secrets";

const report = new Scenario("up");

report.run(async () => {
    const stack = await freshClusterStack();
    let upOutput = "";
    if (!await upCheck(report, stack, line => { upOutput += line; })) {
        return;
    }
    await report.check("secrets: no key material in the stored state, the plain exports or the output of pulumi up, " +
        "in any encoding (PEM, its body, base64 of it, the encryption key's base64, bytes or hex)", async () => {
        // The state with its secrets shown (the Automation API's export keeps them encrypted).
        const needles = keyMaterial(JSON.parse(await run("pulumi", ["stack", "export", "--show-secrets", "--stack", STACK], { cwd: ROOT })));
        // As stored, and as a user without --show-secrets sees them.
        const stored = await run("pulumi", ["stack", "export", "--stack", STACK], { cwd: ROOT });
        const outputs = await run("pulumi", ["stack", "output", "--json", "--stack", STACK], { cwd: ROOT });
        assert.match(stored, /"ciphertext"/, "no encrypted secret in the state at all");
        for (const [where, text] of [["the stored state", stored], ["pulumi stack output", outputs], ["pulumi up's output", upOutput]]) {
            const found = needles.filter(n => text.includes(n.text)).map(n => n.what);
            assert.deepEqual(found, [], `key material in ${where}`);
            assert.doesNotMatch(text, /PRIVATE KEY/, `a private key in ${where}`);
        }
        assert.equal((await stack.outputs()).kubeconfig.secret, true, "the kubeconfig output is not a secret");
        const keys = new Set(needles.map(n => n.what.split(":")[0]));
        return `${keys.size} keys (${needles.length} encodings) looked for in each`;
    });
});
