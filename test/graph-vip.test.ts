// A 3+3 cluster with the API's virtual IP: every graph check, plus kube-vip on each controller, its own identity with
// the least RBAC, and the program's own provider on the VIP once kube-vip's RBAC went in through controller-0.
import * as assert from "node:assert/strict";
import { test } from "node:test";
import { KUBE_VIP_LEASE } from "../render/flags";
import * as versions from "../versions.json";
import { graphTests } from "./graphChecks";
import { fakeBinaryFolder, isSecretValue, mockIp, named, ofType, reveal, runProgram, ProgramRun } from "./program";

const VIP = "192.168.99.250";
let result: Promise<ProgramRun> | undefined;
const run = () => (result ??= runProgram({ controllers: 3, workers: 3, binarySource: fakeBinaryFolder(), apiServerVip: VIP }));

graphTests("3 controllers + 3 workers with a virtual IP", 3, 3, run, VIP);

const filesOf = (stdin: unknown) => Object.fromEntries(Buffer.from(reveal(stdin)).toString().split("\n").filter(Boolean)
    .map(line => line.split(" ")).map(([p, mode, data]) => [p, { mode, content: Buffer.from(data, "base64").toString() }]));
const serverOf = (kubeconfig: string) => /server: (\S+)/.exec(kubeconfig)?.[1];

test("VIP: kube-vip runs on every controller, elects through the local apiserver and announces the VIP by ARP", async () => {
    const { resources } = await run();
    for (const name of ["kdw-controller-0", "kdw-controller-1", "kdw-controller-2"]) {
        const step = named(resources, `${name}-kube-vip-install`).inputs;
        const create = step.create as string;
        assert.ok(create.includes(`KDW_VIP=${VIP} `), create);
        assert.ok(create.includes(`KDW_HOST_IP=${mockIp(name)} `));
        assert.ok(create.includes(`KDW_IMAGE=ghcr.io/kube-vip/kube-vip:${versions.kubeVip} `), "kube-vip's own registry without a mirror");
        assert.match(create, new RegExp(`KDW_KUBE_VIP_ARGS='manager --controlplane --arp --leaderElection --address=${VIP} ` +
            `--port=6443 --nodeName=${name} --namespace=kube-system --leaseName=plndr-cp-lock ` +
            "--leaseDuration=10 --leaseRenewDuration=8 --leaseRetry=1 "));
        assert.ok(isSecretValue(step.stdin));
        const files = filesOf(step.stdin);
        const kubeconfig = files["/etc/kdw/kube-vip/kube-vip.kubeconfig"];
        assert.equal(kubeconfig.mode, "0600");
        assert.equal(serverOf(kubeconfig.content), "https://127.0.0.1:6443", "kube-vip must elect through its own apiserver");
        assert.match(kubeconfig.content, /user: kube-vip\n/);
        assert.ok(files["/etc/kdw/kube-vip/ca.pem"]);
        // The hand-over reads the Lease as kube-vip: the kubeconfig's own certificate and key, the key not world-readable.
        const embedded = (field: string) => Buffer.from(new RegExp(`${field}: (\\S+)`).exec(kubeconfig.content)![1], "base64").toString();
        assert.equal(files["/etc/kdw/kube-vip/client.pem"].content, embedded("client-certificate-data"));
        assert.equal(files["/etc/kdw/kube-vip/client-key.pem"].content, embedded("client-key-data"));
        assert.equal(files["/etc/kdw/kube-vip/client-key.pem"].mode, "0600");
        assert.ok(create.includes("KDW_LEASE=plndr-cp-lock "), create);
    }
    const csr = named(resources, "api-vip-kube-vip-csr").inputs;
    assert.deepEqual(csr.subject, { commonName: "kube-vip" });
});

test("VIP: kube-vip may hold its Lease in kube-system and nothing else", async () => {
    const { resources } = await run();
    const [roleRes] = ofType(resources, "kubernetes:rbac.authorization.k8s.io/v1:Role");
    assert.equal(roleRes.inputs.metadata.namespace, "kube-system");
    assert.deepEqual(roleRes.inputs.rules, [
        { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
        { apiGroups: ["coordination.k8s.io"], resources: ["leases"], resourceNames: ["plndr-cp-lock"], verbs: ["get", "update"] },
    ]);
    const [binding] = ofType(resources, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding");
    assert.deepEqual(binding.inputs.subjects, [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "kube-vip" }]);
    assert.equal(binding.inputs.roleRef.kind, "Role");
});

test("VIP: kube-vip's RBAC goes in through controller-0; the program's own provider uses the VIP", async () => {
    const { resources } = await run();
    const bootstrap = named(resources, "api-vip-bootstrap").inputs;
    assert.equal(serverOf(reveal(bootstrap.kubeconfig)), `https://${mockIp("kdw-controller-0")}:6443`);
    const cluster = named(resources, "cluster").inputs;
    assert.equal(serverOf(reveal(cluster.kubeconfig)), `https://${VIP}:6443`);
    for (const provider of [bootstrap, cluster]) {
        assert.equal(provider.clusterIdentifier, "kube-dumb-way", "a new endpoint or CA must not replace the provider");
    }
});

test("VIP: every machine refuses a driver-assigned address equal to the VIP", async () => {
    const { resources } = await run();
    const machines = ofType(resources, "command:local:Command").filter(r => r.name.endsWith("-machine"));
    assert.equal(machines.length, 6);
    for (const m of machines) {
        assert.ok((m.inputs.create as string).includes(`if [ "$ip" = ${VIP} ]; then`), m.name);
    }
});

test("VIP: the Lease's timings are ones client-go's leader election accepts", () => {
    const { durationSeconds, renewDeadlineSeconds, retrySeconds } = KUBE_VIP_LEASE;
    // client-go refuses to start otherwise (leaderelection.NewLeaderElector), and kube-vip would crash-loop.
    assert.ok(durationSeconds > renewDeadlineSeconds, "leaseDuration must be greater than renewDeadline");
    assert.ok(renewDeadlineSeconds > 1.2 * retrySeconds, "renewDeadline must be greater than retryPeriod*JitterFactor");
});

test("VIP: each controller's kube-vip roll depends on its own control plane's roll directly, so that a controller that " +
    "leaves has its kube-vip taken down (the address handed over) before its apiserver", async () => {
    const { resources } = await run();
    for (const name of ["kdw-controller-0", "kdw-controller-1", "kdw-controller-2"]) {
        assert.ok(named(resources, `${name}-kube-vip-roll`).dependencies.includes(named(resources, `${name}-control-plane-roll`).urn),
            `${name}'s kube-vip roll does not wait for its control plane's roll`);
    }
});
