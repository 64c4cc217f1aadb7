// Assertions on the whole resource graph, shared by the graph tests of each cluster size.
import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import * as yaml from "js-yaml";
import { relativePath } from "../host/binaries";
import { WORKER_BINARIES } from "../config";
import { HOST_SCRIPT_DIR } from "../host/remote";
import { PATCH_FORCE_ANNOTATION } from "../components/cluster";
import * as versions from "../versions.json";
import { filesOf, isSecretValue, mockIp, named, ofType, promiseOf, isSecretOutput, ProgramRun, reveal, routeTableOf } from "./program";

/** `vip`: the apiServerVip the run was configured with, if any. */
export function graphTests(label: string, controllers: number, workers: number, run: () => Promise<ProgramRun>, vip?: string) {
    const C = controllers;
    const W = workers;
    const hosts = C + W;
    const V = vip ? 1 : 0;
    const endpoint = vip ?? mockIp("kdw-controller-0");
    const controllerNames = Array.from({ length: C }, (_, i) => `kdw-controller-${i}`);
    const workerNames = Array.from({ length: W }, (_, i) => `kdw-worker-${i}`);

    test(`${label}: the program runs without error`, async () => {
        const { error } = await run();
        assert.equal(error, undefined);
    });

    test(`${label}: one component of each kind per host, worker and controller; one PodRoute per host`, async () => {
        const { resources } = await run();
        const count = (t: string) => ofType(resources, t).length;
        assert.equal(count("dumbway:index:MachineHost"), hosts);
        assert.equal(count("dumbway:index:CertAuthority"), 3, "the cluster's, etcd's and the front proxy's");
        assert.equal(count("dumbway:index:EtcdMember"), C);
        assert.equal(count("dumbway:index:EtcdMembership"), 1);
        assert.equal(count("dumbway:index:EtcdSnapshots"), C);
        assert.equal(count("dumbway:index:ControlPlane"), C);
        assert.equal(count("dumbway:index:WorkerNode"), W);
        assert.equal(count("dumbway:index:PodRoute"), hosts);
        assert.equal(count("dumbway:index:WorkerBinaries"), 1);
        assert.equal(count("dumbway:index:ClusterAddons"), 1);
        assert.equal(count("dumbway:index:ApiServerVip"), V);
        assert.equal(count("dumbway:index:NetworkPolicyEnforcement"), 1);
        assert.equal(count("dumbway:index:ResourceMetrics"), 1);
    });

    test(`${label}: custom resources per kind`, async () => {
        const { resources } = await run();
        const count = (t: string) => ofType(resources, t).length;
        const issued = 2 * C /* etcd server + peer */ + 2 * C /* controller-manager, scheduler */ + W /* kubelets */
            + 6 /* apiserver, its kubelet and etcd clients, its monitor, admin, kube-proxy */ + V /* kube-vip */
            + 2 /* the aggregator's front-proxy client, metrics-server's serving certificate */
            + 1 /* etcd's membership step's client */;
        assert.equal(count("command:local:Command"), 2 * hosts + 5 + 3 * W,
            "docker-machine + ssh key per host, docker-machine's certificates, the encryption key and its seed, the " +
            "rewrite of Secrets, the wait for the API's OpenAPI document, binaries + drain + uncordon per worker");
        assert.equal(count("command:remote:Command"), 3 * hosts + 9 * C + 2 * W + 2 * V * C + 1,
            "probe + prepare + route table per host, etcd's membership, etcd, control plane, encryption (and kube-vip) install + roll, " +
            "the encryption's read and write phases and the etcd snapshots' service per controller, install + roll per worker");
        assert.equal(count("tls:index/selfSignedCert:SelfSignedCert"), 3);
        assert.equal(count("tls:index/locallySignedCert:LocallySignedCert"), issued);
        assert.equal(count("tls:index/certRequest:CertRequest"), issued);
        assert.equal(count("tls:index/privateKey:PrivateKey"), issued + 3 /* CAs */ + 1 /* service accounts */);
        assert.equal(count("kubernetes:core/v1:Node"), W);
        assert.equal(count("kubernetes:apps/v1:Deployment"), 2, "CoreDNS, metrics-server");
        assert.equal(count("kubernetes:apiregistration.k8s.io/v1:APIService"), 1, "metrics.k8s.io");
        assert.equal(count("kubernetes:apps/v1:DaemonSet"), 1, "kube-router's policy controller");
        assert.equal(count("pulumi:providers:kubernetes"), 1 + V, "the cluster's, and with a VIP one to bootstrap it");
        assert.equal(count("kubernetes:rbac.authorization.k8s.io/v1:Role"), V);
        assert.equal(count("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"), V + 1, "kube-vip's, and metrics-server's auth reader");
    });

    test(`${label}: leaf certificates renew in the configured window; the CAs live ten times as long`, async () => {
        const { resources } = await run();
        const leaves = ofType(resources, "tls:index/locallySignedCert:LocallySignedCert");
        assert.ok(leaves.length > 0);
        for (const cert of leaves) {
            assert.equal(cert.inputs.validityPeriodHours, 8760, cert.name);
            assert.equal(cert.inputs.earlyRenewalHours, 876, cert.name);
        }
        for (const ca of ofType(resources, "tls:index/selfSignedCert:SelfSignedCert")) {
            assert.equal(ca.inputs.validityPeriodHours, 87600, ca.name);
            assert.equal(ca.inputs.earlyRenewalHours, 8760, ca.name);
        }
    });

    test(`${label}: the cluster's keys go last in a destroy: every host's sweep (its probe's delete) waits for the CAs and the encryption key`, async () => {
        const { resources } = await run();
        const keys = ["cluster-ca-key", "cluster-ca-cert", "etcd-ca-key", "etcd-ca-cert", "encryption-key"];
        const probes = resources.filter(r => r.name.endsWith("-probe"));
        assert.equal(probes.length, hosts);
        for (const probe of probes) {
            assert.match(probe.inputs.delete, / kdw down$/, `${probe.name} does not sweep the host`);
            assert.deepEqual(keys.filter(k => !probe.dependencies.some(u => u.endsWith(`::${k}`))), [], `${probe.name} does not wait for`);
            // Only the CAs' own key and certificate: what they issue waits for the machines (their addresses).
            assert.deepEqual(probe.dependencies.filter(u => /-(csr|cert|key)$/.test(u) &&
                !keys.some(k => u.endsWith(`::${k}`)) && !u.endsWith("-ssh-key")), []);
        }
        // docker-machine's certificates, which every machine waits for, do not: the machines start at once.
        assert.deepEqual(named(resources, "docker-machine-certs").dependencies.filter(u => keys.some(k => u.endsWith(`::${k}`))), []);
    });

    test(`${label}: one Cluster component holds everything; its parts keep, by alias, the URNs they had at the top level`, async () => {
        const { resources } = await run();
        const parts = new Set(["dumbway:index:MachineHost", "dumbway:index:CertAuthority", "dumbway:index:EtcdMember",
            "dumbway:index:ControlPlane", "dumbway:index:WorkerNode", "dumbway:index:PodRoute",
            "dumbway:index:WorkerBinaries", "dumbway:index:ClusterAddons", "dumbway:index:ApiServerVip",
            "dumbway:index:NetworkPolicyEnforcement", "dumbway:index:ResourceMetrics", "dumbway:index:EtcdSnapshots"]);
        const clusters = resources.filter(r => r.type === "dumbway:index:Cluster");
        assert.deepEqual(clusters.map(c => c.urn.split("::")[2]), ["dumbway:index:Cluster"], "not one unparented Cluster");
        for (const r of resources.filter(r => r.type !== "dumbway:index:Cluster")) {
            assert.ok(r.urn, `no URN recorded for ${r.type} ${r.name}`);
            // The type part of a URN names the parent's type before its own (the mocks name the direct parent only).
            const types = r.urn.split("::")[2].split("$");
            assert.ok(types.length > 1, `${r.type} ${r.name} has no parent`);
            const part = types[0] === "dumbway:index:Cluster";
            // Parts made since the Cluster component came, never at the top level, so with no alias.
            const newPart = ["api-serves-openapi", "encryption-key-seed", "encryption", "front-proxy-ca", "network-policy",
                "resource-metrics", "etcd-membership"].includes(r.name) || r.type === "dumbway:index:EtcdSnapshots";
            assert.equal(part, parts.has(r.type) || newPart || ["encryption-key", "docker-machine-certs", "cluster"].includes(r.name),
                `${r.type} ${r.name} ${part ? "should not be" : "should be"} one of the cluster's own parts`);
            // Children of the parts follow their parents' aliases (the engine derives them), so only parts carry one.
            const formerlyTopLevel = r.aliases.filter(a => (a as { spec?: { noparent?: boolean } }).spec?.noparent === true);
            assert.equal(formerlyTopLevel.length, part && !newPart ? 1 : 0, `${r.type} ${r.name}: aliases ${JSON.stringify(r.aliases)}`);
        }
    });

    test(`${label}: each host's one route table routes every other worker's pod range via that worker; workers masquerade`, async () => {
        const { resources } = await run();
        const steps = ofType(resources, "command:remote:Command").filter(r => r.name.endsWith("-routes-table"));
        assert.equal(steps.length, hosts);
        for (const host of [...controllerNames, ...workerNames]) {
            const table = routeTableOf(named(resources, `${host}-routes-table`));
            const expected = [
                ...(workerNames.includes(host) ? ["masquerade 10.200.0.0/16"] : []),
                ...workerNames.flatMap((w, i) => w === host ? [] : [`route 10.200.${i}.0/24 ${mockIp(w)}`]),
            ];
            assert.deepEqual(table.split("\n").filter(l => l && !l.startsWith("#")), expected, `${host}'s table`);
        }
    });

    test(`${label}: etcd's membership step runs on controller-0 once every controller is ready, with every declared member, its client certificate a secret on stdin`, async () => {
        const { resources } = await run();
        const step = named(resources, "etcd-membership-members");
        assert.equal(reveal(step.inputs.connection).host, mockIp("kdw-controller-0"));
        for (const name of controllerNames) {
            assert.ok(step.dependencies.includes(named(resources, `${name}-prepare`).urn), `it runs before ${name}'s host is ready`);
        }
        const create = reveal(step.inputs.create) as string;
        assert.match(create, new RegExp(`KDW_ETCD_PEERS=${controllerNames.map(n => `https://${mockIp(n)}:2380`).join(",")} `));
        assert.match(create, new RegExp(`KDW_ETCD_ENDPOINTS=${controllerNames.map(n => `https://${mockIp(n)}:2379`).join(",")} `));
        assert.equal(reveal(step.inputs.update), create);
        assert.equal(isSecretValue(step.inputs.stdin), true);
        assert.deepEqual([...filesOf(step).keys()].map(f => f.replace(/^.*\/etcd-membership\//, "")),
            ["pki/ca.pem", "pki/client.pem", "pki/client-key.pem"]);
    });

    test(`${label}: etcd members start with the whole cluster, once every controller is ready, and the apiservers use every member`, async () => {
        const { resources } = await run();
        const initialCluster = controllerNames.map(n => `${n}=https://${mockIp(n)}:2380`).join(",");
        const servers = controllerNames.map(n => `https://${mockIp(n)}:2379`).join(",");
        for (const name of controllerNames) {
            const install = named(resources, `${name}-etcd-install`);
            // Started when every member's host is ready: a new cluster's member answers only once a quorum runs.
            for (const other of controllerNames) {
                assert.ok(install.dependencies.includes(named(resources, `${other}-prepare`).urn),
                    `${name}'s etcd starts before ${other}'s host is ready`);
            }
            const etcd = install.inputs.create as string;
            assert.match(etcd, new RegExp(`--initial-cluster=${initialCluster}( |')`));
            assert.match(etcd, new RegExp(`--name=${name} `));
            // The data's owner is the cluster of the etcd CA's key (mocked keys are "PUBLIC KEY OF <name>").
            const etcdCaId = createHash("sha256").update("PUBLIC KEY OF etcd-ca-key").digest("hex");
            assert.match(etcd, new RegExp(`KDW_CLUSTER_ID=${etcdCaId} `));
            const cp = named(resources, `${name}-control-plane-install`).inputs.create as string;
            assert.match(cp, new RegExp(`--etcd-servers=${servers} `));
            assert.match(cp, new RegExp(`--advertise-address=${mockIp(name)} `));
            assert.match(cp, /--service-cluster-ip-range=10\.32\.0\.0\/24 /);
            assert.match(cp, /--encryption-provider-config=/);
            const issuers = [...cp.matchAll(/--service-account-issuer=(\S+) /g)].map(m => m[1]);
            assert.deepEqual(issuers, [...new Set([endpoint, mockIp("kdw-controller-0")])].map(h => `https://${h}:6443`),
                "the clients' endpoint does not sign, or controller-0's issuer is not accepted");
        }
    });

    test(`${label}: every control plane's roll sends the admission configuration (Pod Security's defaults) and the ` +
        "program's audit policy, which its apiserver's flags name", async () => {
        const { resources } = await run();
        const policy = readFileSync(path.join(HOST_SCRIPT_DIR, "audit-policy.yaml"), "utf8");
        for (const name of controllerNames) {
            for (const step of [`${name}-control-plane-install`, `${name}-control-plane-roll`]) {
                const files = filesOf(named(resources, step));
                assert.equal(files.get("/etc/kdw/control-plane/audit-policy.yaml"), policy, `${step}: the audit policy`);
                const admission = JSON.parse(files.get("/etc/kdw/control-plane/admission-config.yaml") ?? "null");
                assert.deepEqual(admission?.plugins?.[0]?.configuration?.defaults, {
                    enforce: "baseline", "enforce-version": "latest", audit: "restricted", "audit-version": "latest",
                    warn: "restricted", "warn-version": "latest",
                }, `${step}: Pod Security's defaults`);
            }
            const cp = named(resources, `${name}-control-plane-install`).inputs.create as string;
            assert.match(cp, /--admission-control-config-file=\/etc\/kubernetes\/admission-config\.yaml /);
            assert.match(cp, /--audit-policy-file=\/etc\/kubernetes\/audit-policy\.yaml /);
            assert.match(cp, /KDW_AUDIT_LOGS=\/var\/log\/kdw /, "the audit log's folder on a systemd host");
        }
    });

    test(`${label}: a new cluster's encryption at rest: secretbox with generation 0 (key1), aescbc reading with the same ` +
        "key, identity last; written before each apiserver first starts; its read and write phases, and the rewrite, " +
        "run nothing when created", async () => {
        const { resources } = await run();
        const providersOf = (step: string) => {
            const files = filesOf(named(resources, step));
            // The monitor's identity, which the rolls read the apiserver's metrics with, only with the last phase: a
            // renewed certificate must not write a rotation's earlier phase again.
            const monitor = step.endsWith("-install") || step.endsWith("-roll")
                ? ["/etc/kdw/encryption-monitor/client.pem", "/etc/kdw/encryption-monitor/client-key.pem"] : [];
            assert.deepEqual([...files.keys()], ["/etc/kdw/control-plane/encryption-config.yaml", ...monitor], step);
            return (yaml.load(files.get("/etc/kdw/control-plane/encryption-config.yaml")!) as any).resources[0].providers;
        };
        const key1 = [{ name: "key1", secret: Buffer.alloc(32, 7).toString("base64") }];
        for (const name of controllerNames) {
            for (const step of ["read", "write", "install", "roll"].map(p => `${name}-encryption-${p}`)) {
                assert.deepEqual(providersOf(step), [{ secretbox: { keys: key1 } }, { aescbc: { keys: key1 } }, { identity: {} }], step);
            }
            for (const phase of ["read", "write"]) {
                const inputs = named(resources, `${name}-encryption-${phase}`).inputs;
                assert.equal(inputs.create, undefined, `${phase} runs when created`);
                assert.match(inputs.update, new RegExp(`KDW_PHASE=${phase} .* roll`, "s"));
            }
            assert.ok(named(resources, `${name}-control-plane-install`).dependencies.includes(named(resources, `${name}-encryption-install`).urn),
                `${name}'s apiserver starts before its encryption configuration is written`);
        }
        const rewrite = named(resources, "encryption-rewrite-secrets").inputs;
        assert.equal(rewrite.create, undefined);
        assert.match(rewrite.update, /^KDW_ENCRYPTION='secretbox key generation 0' sh -c /);
    });

    test(`${label}: the apiserver certificate names every controller and the kubernetes service`, async () => {
        const { resources } = await run();
        const csr = named(resources, "apiserver-csr").inputs;
        assert.equal(csr.subject.commonName, "kubernetes");
        assert.deepEqual([...csr.ipAddresses].sort(),
            ["127.0.0.1", "10.32.0.1", ...controllerNames.map(mockIp), ...(vip ? [vip] : [])].sort());
        for (const dns of ["kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"]) {
            assert.ok(csr.dnsNames.includes(dns), `apiserver certificate lacks ${dns}`);
        }
    });

    test(`${label}: each worker has its own system:node certificate with its name and address`, async () => {
        const { resources } = await run();
        for (const name of workerNames) {
            const csr = named(resources, `${name}-node-kubelet-csr`).inputs;
            assert.deepEqual(csr.subject, { commonName: `system:node:${name}`, organization: "system:nodes" });
            assert.deepEqual(csr.dnsNames, [name]);
            assert.deepEqual(csr.ipAddresses, [mockIp(name)]);
            const signed = named(resources, `${name}-node-kubelet-cert`).inputs;
            assert.deepEqual([...signed.allowedUses].sort(), ["client_auth", "digital_signature", "key_encipherment", "server_auth"]);
        }
    });

    test(`${label}: every Kubernetes object of the cluster's is applied with patchForce (an object an interrupted create left under another field manager is taken over), and only those`, async () => {
        const { resources } = await run();
        const objects = resources.filter(r => r.type.startsWith("kubernetes:"));
        assert.ok(objects.length >= 20, `only ${objects.length} Kubernetes objects`);
        for (const r of objects) {
            assert.equal(r.inputs.metadata?.annotations?.[PATCH_FORCE_ANNOTATION], "true", `${r.type} ${r.name}`);
        }
        for (const r of resources.filter(r => !r.type.startsWith("kubernetes:") && r.inputs?.metadata)) {
            assert.equal(r.inputs.metadata.annotations?.[PATCH_FORCE_ANNOTATION], undefined, `${r.type} ${r.name}`);
        }
    });

    test(`${label}: each worker's Node object carries its planned pod range`, async () => {
        const { resources } = await run();
        for (const [i, name] of workerNames.entries()) {
            const node = named(resources, `${name}-node-node`).inputs;
            assert.equal(node.metadata.name, name);
            assert.equal(node.spec.podCIDR, `10.200.${i}.0/24`);
        }
    });

    test(`${label}: each worker's load balancer spreads over every controller`, async () => {
        const { resources } = await run();
        for (const name of workerNames) {
            const install = named(resources, `${name}-node-install`).inputs;
            const bundle = Buffer.from(reveal(install.stdin)).toString();
            const lbUnit = bundle.split("\n").find(line => line.startsWith("/etc/systemd/system/kdw-apiserver-lb.service"));
            assert.ok(lbUnit, "no load balancer unit");
            const unit = Buffer.from(lbUnit.split(" ")[2], "base64").toString();
            for (const c of controllerNames) {
                assert.ok(unit.includes(`--backend=${mockIp(c)}:6443`), `load balancer misses ${c}`);
            }
        }
    });

    test(`${label}: key material travels only as secret stdin, never on a command line`, async () => {
        const { resources } = await run();
        const carriers = ofType(resources, "command:remote:Command")
            .filter(r => /-(etcd|control-plane|kube-vip|node)-(install|roll)$|-encryption-(install|roll|read|write)$/.test(r.name));
        assert.equal(carriers.length, 2 * (2 * C + W) + 2 * V * C + 4 * C);
        for (const r of carriers) {
            assert.ok(isSecretValue(r.inputs.stdin), `${r.name}'s stdin is not secret`);
            assert.ok(Buffer.from(reveal(r.inputs.stdin)).toString().length > 0);
        }
        for (const r of [...ofType(resources, "command:remote:Command"), ...ofType(resources, "command:local:Command")]) {
            for (const field of ["create", "update", "delete"]) {
                assert.doesNotMatch(reveal(r.inputs[field]) ?? "", /PRIVATE KEY|client-key-data/, `${r.name} has a key on its ${field} command line`);
            }
        }
        for (const r of ofType(resources, "command:local:Command").filter(r => /-(drain|uncordon)$/.test(r.name))) {
            assert.ok(isSecretValue(r.inputs.stdin), `${r.name}'s admin kubeconfig is not secret`);
            assert.match(reveal(r.inputs.stdin), /client-key-data: /);
        }
    });

    test(`${label}: a change never replaces a host step: installs replace only with their machine, rolls never`, async () => {
        const { resources } = await run();
        for (const r of ofType(resources, "command:remote:Command")) {
            if (r.name.endsWith("-install")) {
                assert.deepEqual(reveal(r.inputs.triggers), [`${r.name.replace(/-(etcd|encryption|control-plane|kube-vip|node)-install$/, "")}-machine-id`],
                    `${r.name} replaces on something else than its machine`);
                assert.equal(r.inputs.update, "cat >/dev/null", `${r.name} acts on updates`);
            } else if (r.name.endsWith("-roll")) {
                assert.equal(r.inputs.triggers, undefined, `${r.name} can be replaced`);
                assert.equal(r.inputs.create, undefined, `${r.name} runs something when created`);
                assert.match(reveal(r.inputs.update), / kdw roll$/);
                assert.match(reveal(r.inputs.delete), / kdw down$/);
            } else if (/-encryption-(read|write)$/.test(r.name)) { // a rotation's intermediate phases: roll only
                assert.equal(r.inputs.triggers, undefined, `${r.name} can be replaced`);
                assert.equal(r.inputs.create, undefined, `${r.name} runs something when created`);
                assert.match(reveal(r.inputs.update), / kdw roll$/);
                assert.equal(r.inputs.delete, undefined, `${r.name} runs something when deleted`);
            } else if (r.name === "etcd-membership-members") { // the cluster's step, not a machine's: a change runs `up`
                assert.equal(r.inputs.triggers, undefined, `${r.name} can be replaced`);
                assert.equal(reveal(r.inputs.update), reveal(r.inputs.create), `${r.name} does not run up on a change`);
                assert.match(reveal(r.inputs.create), / kdw up$/);
                assert.doesNotMatch(reveal(r.inputs.create), /KDW_MACHINE=/, `${r.name} runs again for a new machine`);
            } else if (!r.name.endsWith("-probe")) { // the probe only reads the host, once
                // The prepare and route-table steps: a change runs `up` again; nothing replaces them (their `down`
                // sweeps the host or its routes), a new machine too is a change of their command line.
                assert.equal(r.inputs.triggers, undefined, `${r.name} can be replaced`);
                assert.equal(reveal(r.inputs.update), reveal(r.inputs.create), `${r.name} does not run up on a change`);
                assert.match(reveal(r.inputs.create), / kdw up$/);
                assert.match(reveal(r.inputs.create), /KDW_MACHINE=kdw-(controller|worker)-\d+-machine-id /,
                    `${r.name}'s command line does not change with its machine`);
            }
        }
    });

    test(`${label}: each worker gets the binaries in one copy of one staged folder, before its node is installed`, async () => {
        const { resources } = await run();
        const copies = ofType(resources, "command:local:Command").filter(c => c.name.endsWith("-node-binaries"));
        assert.deepEqual(copies.map(c => c.name).sort(), workerNames.map(n => `${n}-node-binaries`).sort());
        assert.equal(ofType(resources, "command:remote:CopyToRemote").length, 0,
            "no asset the engine would read and hash on every run");
        const folders = new Set(copies.map(c => c.inputs.environment.KDW_FOLDER as string));
        assert.equal(folders.size, 1, "every worker copies the same folder");
        const [folder] = [...folders];
        const staged = readdirSync(folder, { recursive: true, withFileTypes: true }).filter(e => e.isFile())
            .map(e => path.relative(folder, path.join(e.parentPath, e.name))).sort();
        assert.deepEqual(staged, WORKER_BINARIES.map(relativePath).sort(), "the folder holds exactly the worker binaries");
        for (const name of workerNames) {
            const copy = named(resources, `${name}-node-binaries`).inputs;
            assert.match(copy.create, /^sh -c '.*tar -c -C "\$KDW_FOLDER" \. \|.*' copy$/s);
            const { KDW_FOLDER: copied, ...connection } = copy.environment;
            assert.equal(copied, folder);
            assert.deepEqual(connection, {
                KDW_STAGE: "/opt/kdw/stage", KDW_HOST: mockIp(name), KDW_PORT: "22", KDW_USER: "docker",
                KDW_KEY: `/machines/${name}/id_rsa`,
            });
            // A new set of binaries or a new machine copies again; nothing else does.
            assert.equal(copy.triggers.length, 2);
            assert.equal(copy.triggers[0], named(resources, copies[0].name).inputs.triggers[0]);
            assert.ok(!isSecretValue(copy.environment.KDW_KEY), "a key's path, not key material");
            assert.ok(named(resources, `${name}-node-install`).dependencies.includes(named(resources, `${name}-node-binaries`).urn));
        }
    });

    test(`${label}: the add-ons and the policy controller wait for the workers' first install, not for their roll chain`, async () => {
        const { resources } = await run();
        for (const type of ["dumbway:index:ClusterAddons", "dumbway:index:NetworkPolicyEnforcement", "dumbway:index:ResourceMetrics"]) {
            const addons = ofType(resources, type)[0];
            for (const name of workerNames) {
                assert.ok(addons.dependencies.includes(named(resources, `${name}-node-install`).urn), `${type} does not wait for ${name}`);
            }
            assert.deepEqual(addons.dependencies.filter(u => /-(roll|drain|uncordon)$/.test(u) || /WorkerNode::[^:]+$/.test(u)), []);
        }
    });

    test(`${label}: NetworkPolicy is enforced by kube-router's policy controller alone, on every worker, in the worker's network`, async () => {
        const { resources } = await run();
        const [daemonSet] = ofType(resources, "kubernetes:apps/v1:DaemonSet");
        const pod = daemonSet.inputs.spec.template.spec;
        assert.equal(daemonSet.inputs.metadata.namespace, "kube-system");
        assert.equal(pod.hostNetwork, true, "the rules go in the worker's own network namespace");
        assert.deepEqual(pod.tolerations, [{ operator: "Exists" }], "on every worker, cordoned or tainted");
        const [container] = pod.containers;
        assert.equal(container.image, `docker.io/cloudnativelabs/kube-router:${versions.kubeRouter}`);
        assert.equal(container.securityContext.privileged, true);
        assert.deepEqual(container.args.filter((a: string) => /^--run-/.test(a)),
            ["--run-firewall=true", "--run-router=false", "--run-service-proxy=false"]);
        assert.ok(container.args.includes("--service-cluster-ip-range=10.32.0.0/24"), container.args.join(" "));
        assert.ok(container.args.includes("--hostname-override=$(NODE_NAME)"));
        assert.ok(container.args.includes("--health-port=0") && container.args.includes("--metrics-port=0"),
            "no port of kube-router's open on the workers (v2.1.0 serves pprof on them)");
        assert.deepEqual(container.env, [{ name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } }]);
        assert.deepEqual(pod.volumes, [{ name: "xtables-lock", hostPath: { path: "/run/xtables.lock", type: "FileOrCreate" } }],
            "iptables' lock is the one kube-proxy takes on the same worker");
        const [role] = ofType(resources, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")
            .filter(r => r.name === "network-policy-kube-router");
        const verbs = new Set(role.inputs.rules.flatMap((rule: { verbs: string[] }) => rule.verbs));
        assert.deepEqual([...verbs].sort(), ["get", "list", "watch"], "it writes nothing through the API");
    });

    test(`${label}: the aggregation layer: every control plane gets the front-proxy CA (not the cluster's) and the ` +
        `aggregator's client certificate, signed by it`, async () => {
        const { resources } = await run();
        for (const host of controllerNames) {
            const files = filesOf(named(resources, `${host}-control-plane-install`));
            assert.equal(files.get("/etc/kdw/control-plane/pki/front-proxy-ca.pem"), "CERTIFICATE front-proxy-ca-cert", host);
            assert.equal(files.get("/etc/kdw/control-plane/pki/front-proxy-client.pem"), "CERTIFICATE front-proxy-client-cert", host);
            assert.equal(files.get("/etc/kdw/control-plane/pki/front-proxy-client-key.pem"), "PRIVATE KEY OF front-proxy-client-key", host);
        }
        const client = named(resources, "front-proxy-client-cert");
        assert.equal(client.inputs.caCertPem, "CERTIFICATE front-proxy-ca-cert");
        assert.deepEqual(client.inputs.allowedUses, ["digital_signature", "key_encipherment", "client_auth"]);
        assert.deepEqual(named(resources, "front-proxy-client-csr").inputs.subject, { commonName: "front-proxy-client" });
    });

    test(`${label}: metrics-server serves the resource metrics API behind the aggregator, every connection verified`, async () => {
        const { resources } = await run();
        const [apiService] = ofType(resources, "kubernetes:apiregistration.k8s.io/v1:APIService");
        assert.equal(apiService.inputs.metadata.name, "v1beta1.metrics.k8s.io");
        assert.deepEqual(apiService.inputs.spec.service, { name: "metrics-server", namespace: "kube-system" });
        assert.equal(apiService.inputs.spec.insecureSkipTLSVerify, undefined);
        assert.equal(Buffer.from(apiService.inputs.spec.caBundle, "base64").toString(), "CERTIFICATE cluster-ca-cert",
            "the aggregator trusts metrics-server's certificate by the cluster CA");
        const serving = named(resources, "resource-metrics-metrics-server-serving-csr");
        assert.deepEqual(serving.inputs.dnsNames, ["metrics-server.kube-system.svc", "metrics-server.kube-system.svc.cluster.local"]);
        assert.equal(named(resources, "resource-metrics-metrics-server-serving-cert").inputs.caCertPem, "CERTIFICATE cluster-ca-cert");
        const secret = named(resources, "resource-metrics-metrics-server-tls");
        assert.equal(secret.inputs.type, "kubernetes.io/tls");
        assert.ok(isSecretValue(secret.inputs.stringData) || isSecretValue(secret.inputs.stringData["tls.key"]),
            "the serving key stays a Pulumi secret");
        const deployment = ofType(resources, "kubernetes:apps/v1:Deployment").find(d => d.inputs.metadata.name === "metrics-server")!;
        const pod = deployment.inputs.spec.template.spec;
        const [container] = pod.containers;
        assert.equal(container.image, `registry.k8s.io/metrics-server/metrics-server:${versions.metricsServer}`);
        assert.ok(container.args.includes("--kubelet-certificate-authority=/etc/metrics-server/kubelet-ca/ca.crt"), container.args.join(" "));
        assert.deepEqual(container.args.filter((a: string) => /insecure/.test(a)), [], "kubelets are verified");
        assert.ok(container.args.includes("--tls-cert-file=/etc/metrics-server/tls/tls.crt"));
        assert.deepEqual(pod.volumes.map((v: { name: string; secret?: unknown; configMap?: unknown }) => [v.name, v.secret ?? v.configMap ?? "emptyDir"]),
            [["tmp", "emptyDir"], ["tls", { secretName: "metrics-server-tls" }], ["kubelet-ca", { name: "kube-root-ca.crt" }]]);
        assert.equal(container.securityContext.runAsNonRoot, true);
        assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    });

    test(`${label}: changes roll one host at a time: etcd's membership made the declared controllers, etcd members, then the encryption's phases (read, write, the ` +
        `rewrite of Secrets, final), then control planes, ${V ? "then kube-vip, " : ""}then workers (drain, roll, uncordon)`, async () => {
        const { resources } = await run();
        const urn = (name: string) => named(resources, name).urn;
        const dependsOn = (name: string, on: string) =>
            assert.ok(named(resources, name).dependencies.includes(urn(on)), `${name} does not wait for ${on}`);
        const chain = [
            "etcd-membership-members",
            ...controllerNames.map(n => `${n}-etcd-roll`),
            ...controllerNames.map(n => `${n}-encryption-read`),
            ...controllerNames.map(n => `${n}-encryption-write`),
            "encryption-rewrite-secrets",
            ...controllerNames.map(n => `${n}-encryption-roll`),
            ...controllerNames.map(n => `${n}-control-plane-roll`),
            ...(V ? controllerNames.map(n => `${n}-kube-vip-roll`) : []),
            ...workerNames.flatMap(n => [`${n}-node-drain`, `${n}-node-roll`, `${n}-node-uncordon`]),
        ];
        for (let i = 1; i < chain.length; i++) {
            dependsOn(chain[i], chain[i - 1]);
        }
        // The first `up` is not chained: installs wait only for their own host (and workers for the control plane).
        for (const name of [...controllerNames.map(n => `${n}-etcd-install`), ...controllerNames.map(n => `${n}-encryption-install`),
            ...controllerNames.map(n => `${n}-control-plane-install`),
            ...(V ? controllerNames.map(n => `${n}-kube-vip-install`) : []), ...workerNames.map(n => `${n}-node-install`)]) {
            const rollsBefore = named(resources, name).dependencies.filter(u => /-(roll|drain|uncordon)$/.test(u));
            assert.deepEqual(rollsBefore, [], `${name} waits for another host's roll`);
        }
        for (const name of workerNames) {
            dependsOn(`${name}-node-roll`, `${name}-node-install`);
            const drain = named(resources, `${name}-node-drain`).inputs;
            assert.equal(drain.create, undefined);
            assert.match(drain.update, /KDW_TIMEOUT=300 KDW_KUBELET_VERSION=v\d+\.\d+\.\d+ sh -c .* kdw drain$/s);
            assert.match(named(resources, `${name}-node-uncordon`).inputs.update, / kdw uncordon$/);
        }
    });

    test(`${label}: the kubeconfig output is a secret with the admin identity and the API endpoint`, async () => {
        const { outputs } = await run();
        assert.equal(await isSecretOutput(outputs.kubeconfig), true);
        const text = await promiseOf(outputs.kubeconfig);
        assert.match(text, new RegExp(`server: https://${endpoint.replace(/\./g, "\\.")}:6443`));
        assert.match(text, /client-key-data: /);
        assert.equal(await promiseOf(outputs.apiServerEndpoint), `https://${endpoint}:6443`);
        const workers = (outputs.workers as unknown as { podCidr: string }[]);
        assert.equal(workers[W - 1].podCidr, `10.200.${W - 1}.0/24`);
    });
}
