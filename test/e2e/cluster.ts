// Looking at a running cluster from the e2e suites: kubectl through the admin kubeconfig, etcdctl on a controller.
import * as assert from "node:assert/strict";
import { eventually, kubectlWith, readyNodes as readyNodesOf, run, ssh, TestHost } from "./harness";
import { writtenValue, WRITER_LABEL } from "./writer";

/** An etcd member as `etcdctl member list -w simple` shows it. */
export interface EtcdMember { id: string; status: string; name: string; peerUrl: string; learner: boolean }

/**
 * After a controller's machine was lost and rebuilt: as many members as controllers, each started and voting (no
 * learner), named after the controllers, and the lost member's id gone.
 */
export function assertRejoined(members: EtcdMember[], lostId: string, controllerNames: string[]): void {
    assert.equal(members.length, controllerNames.length, `members: ${JSON.stringify(members)}`);
    assert.deepEqual(members.filter(m => m.status !== "started" || m.learner), [], "members not started, or learners");
    assert.ok(!members.some(m => m.id === lostId), `the lost member ${lostId} is still a member`);
    assert.deepEqual(members.map(m => m.name).sort(), [...controllerNames].sort());
}

export function clusterClient(kubeconfigPath: string, controllers: TestHost[]) {
    const kubectl = kubectlWith(kubeconfigPath);

    const etcdctl = (host: TestHost, args: string, endpoints = "https://127.0.0.1:2379"): Promise<string> =>
        ssh(host, `docker exec kdw-etcd etcdctl --endpoints=${endpoints} --cacert=/etc/etcd/ca.pem ` +
            `--cert=/etc/etcd/server.pem --key=/etc/etcd/server-key.pem ${args}`);

    const readyNodes = () => readyNodesOf(kubectl);

    return {
        kubectl,
        etcdctl,
        readyNodes,
        /** etcd's members as a controller lists them ("<id>, <status>, <name>, <peer>, <client>, <is learner>"). */
        async etcdMembers(via: TestHost): Promise<EtcdMember[]> {
            return (await etcdctl(via, "member list -w simple")).trim().split("\n").map(l => l.split(", "))
                .map(([id, status, name, peerUrl, , learner]) => ({ id, status, name, peerUrl, learner: learner === "true" }));
        },
        async expectReady(names: string[], seconds: number) {
            await eventually(seconds, async () => assert.deepEqual(await readyNodes(), [...names].sort()));
        },
        async podsOf(app: string): Promise<{ name: string; ip: string; node: string }[]> {
            const pods = JSON.parse(await kubectl("get", "pods", "-l", `app=${app}`, "-o", "json")).items as any[];
            return pods.filter(p => p.status.phase === "Running" && p.metadata.deletionTimestamp === undefined)
                .map(p => ({ name: p.metadata.name, ip: p.status.podIP, node: p.spec.nodeName }));
        },
        /** Creates `count` ConfigMaps `<label>-<n>`, labelled `kdw-restore=<label>`, each holding its number. */
        async createConfigMaps(label: string, count: number): Promise<void> {
            const items = Array.from({ length: count }, (_, n) => ({
                apiVersion: "v1", kind: "ConfigMap", metadata: { name: `${label}-${n}`, labels: { "kdw-restore": label } },
                data: { n: String(n) },
            }));
            await run("kubectl", ["--kubeconfig", kubeconfigPath, "apply", "-f", "-"],
                { input: JSON.stringify({ apiVersion: "v1", kind: "List", items }) });
        },
        /** How many ConfigMaps createConfigMaps made with `label` the API has. */
        async configMapsOf(label: string): Promise<number> {
            return (JSON.parse(await kubectl("get", "configmaps", "-l", `kdw-restore=${label}`, "-o", "json")).items as any[]).length;
        },
        /** Creates `count` Secrets `<label>-<n>`, labelled `kdw-writer=<label>`, each holding its number (writtenValue). */
        async createSecrets(label: string, count: number): Promise<void> {
            const items = Array.from({ length: count }, (_, n) => ({
                apiVersion: "v1", kind: "Secret", metadata: { name: `${label}-${n}`, labels: { [WRITER_LABEL]: label } },
                data: writtenValue("Secret", n),
            }));
            await run("kubectl", ["--kubeconfig", kubeconfigPath, "apply", "-f", "-"],
                { input: JSON.stringify({ apiVersion: "v1", kind: "List", items }) });
        },
        /** The Secrets (named `<label>-<n>`) that the API does not give back with their number. */
        async secretsNotReadBack(names: string[]): Promise<string[]> {
            const values = new Map((JSON.parse(await kubectl("get", "secrets", "-l", WRITER_LABEL, "-o", "json")).items as any[])
                .map(s => [s.metadata.name as string, s.data?.n as string]));
            return names.filter(name => values.get(name) !== writtenValue("Secret", Number(name.split("-").pop())).n);
        },
        /**
         * After a key rotation: every Secret in etcd stored under `prefix` (`k8s:enc:<provider>:v1:<key>:`, read on
         * controller 0), and every controller's encryption configuration naming `key` alone (once per provider).
         * Returns how many Secrets etcd holds.
         */
        async assertEncryptedUnder(prefix: string, key: string): Promise<number> {
            const stored = JSON.parse(await etcdctl(controllers[0], "get /registry/secrets/ --prefix -w json")).kvs as { key: string; value: string }[];
            const others = stored.map(kv => [Buffer.from(kv.key, "base64").toString(), Buffer.from(kv.value, "base64").toString("latin1")])
                .filter(([, value]) => !value.startsWith(prefix)).map(([name, value]) => `${name}: ${value.slice(0, 24)}`);
            assert.deepEqual(others, [], `Secrets in etcd not under ${prefix}`);
            for (const c of controllers) {
                const folder = (await ssh(c, "docker inspect --format '{{range .Mounts}}{{if eq .Destination \"/etc/kubernetes\"}}{{.Source}}{{end}}{{end}}' kdw-kube-apiserver")).trim();
                // The file is root's (0600); boot2docker's SSH user is docker, with sudo.
                const text = await ssh(c, `$([ "$(id -u)" = 0 ] || echo sudo -n) cat ${folder}/encryption-config.yaml`);
                const names = [...text.matchAll(/name: (key\d+)/g)].map(m => m[1]);
                assert.deepEqual(names, [key, key], `${c.name}'s encryption configuration names ${names.join(", ")}`);
            }
            return stored.length;
        },
        /** Every etcd member answers healthy (within `seconds`). */
        async etcdHealthy(seconds: number) {
            await eventually(seconds, async () => {
                const health = JSON.parse(await etcdctl(controllers[0], "endpoint health -w json",
                    controllers.map(c => `https://${c.ip}:2379`).join(","))) as any[];
                assert.equal(health.filter(h => h.health).length, controllers.length, JSON.stringify(health));
            }, 3000);
        },
    };
}
