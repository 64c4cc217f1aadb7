// The e2e cluster made afresh by the real CLI and providers through the Automation API (an earlier one destroyed
// first): `kubectl top` answers for every worker soon after, timed from when `pulumi up` returned; and its
// secrets: no key material anywhere a user or the state shows it in the clear.
import * as assert from "node:assert/strict";
import { freshClusterStack, kubectl, STACK, upCheck } from "../e2eCluster";
import { eventually, ROOT, run, workerNames } from "../harness";
import { Scenario } from "../scenario";
import { keyMaterial } from "../secrets";

const report = new Scenario("up");

/** How soon after `up` ends `kubectl top` must answer for every worker (issue 23), in s. */
const TOP_WITHIN_S = 90;

/**
 * `kubectl top`'s answer once it has metrics for every worker: the nodes it measures, and of the pods it measures the
 * nodes they run on. Throws while a worker or its pods have none yet.
 */
async function topOfEveryWorker(): Promise<string> {
    const nodes = (await kubectl("top", "nodes", "--no-headers")).trim().split("\n").map(l => l.trim().split(/\s+/));
    const measured = nodes.filter(([, cpu, , memory]) => /^\d+m$/.test(cpu) && /^\d+Mi$/.test(memory)).map(([name]) => name);
    assert.deepEqual(measured.sort(), workerNames(3), `kubectl top nodes: ${nodes.map(n => n.join(" ")).join("; ")}`);
    const pods = (await kubectl("top", "pods", "-A", "--no-headers")).trim().split("\n").map(l => l.trim().split(/\s+/));
    const placed = JSON.parse(await kubectl("get", "pods", "-A", "-o", "json")).items as
        { metadata: { namespace: string; name: string }; spec: { nodeName?: string } }[];
    const nodeOfPod = new Map(placed.map(p => [`${p.metadata.namespace}/${p.metadata.name}`, p.spec.nodeName]));
    const podNodes = [...new Set(pods.filter(([, , cpu]) => /^\d+m$/.test(cpu)).map(([ns, name]) => nodeOfPod.get(`${ns}/${name}`)))];
    assert.deepEqual(podNodes.sort(), workerNames(3), "kubectl top pods: pods measured on these workers only");
    return `${measured.length} nodes, ${pods.length} pods`;
}

report.run(async () => {
    const stack = await freshClusterStack();
    let upOutput = "";
    if (!await upCheck(report, stack, line => { upOutput += line; })) {
        return;
    }
    await report.check(`kubectl top: nodes and pods have metrics within ${TOP_WITHIN_S} s of up's end, on every worker of ` +
        "both host kinds (metrics-server behind the aggregation layer, kubelets verified by the cluster CA)", async () => {
        // From when `pulumi up` returned; the kubeconfig was then read from the outputs (saveAccess), as a user would.
        const upEnded = (report.timings.up as { returnedAt?: number } | undefined)?.returnedAt;
        assert.ok(upEnded, "the up check recorded no end");
        const deadline = upEnded + TOP_WITHIN_S * 1000;
        const answer = await eventually(Math.max(0, (deadline - Date.now()) / 1000), topOfEveryWorker, 2000);
        const seconds = (Date.now() - upEnded) / 1000;
        assert.ok(seconds <= TOP_WITHIN_S, `kubectl top answered for every worker ${seconds.toFixed(0)} s after up's end`);
        return `${answer}, ${seconds.toFixed(0)} s after up's end`;
    });
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
