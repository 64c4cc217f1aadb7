// Looking at a running cluster from the e2e suites: kubectl through the admin kubeconfig, etcdctl on a controller.
import * as assert from "node:assert/strict";
import { eventually, kubectlWith, readyNodes as readyNodesOf, ssh, TestHost } from "./harness";

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
