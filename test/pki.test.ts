import * as assert from "node:assert/strict";
import { test } from "node:test";
import { validateConfig } from "../config";
import * as pki from "../render/pki";

const cfg = validateConfig({ binarySource: "/bin" }, { fileExists: () => true });

test("client certificates carry the identities RBAC and the Node authorizer expect", () => {
    const subjects = [pki.adminCert(), pki.kubeProxyCert(), pki.controllerManagerCert(), pki.schedulerCert(),
        pki.apiserverKubeletClientCert(), pki.apiserverEtcdClientCert(), pki.apiserverMonitorCert()].map(s => [s.commonName, s.organization, s.usages]);
    assert.deepEqual(subjects, [
        ["admin", "system:masters", ["client"]],
        ["system:kube-proxy", "system:node-proxier", ["client"]],
        ["system:kube-controller-manager", "system:kube-controller-manager", ["client"]],
        ["system:kube-scheduler", "system:kube-scheduler", ["client"]],
        [pki.APISERVER_KUBELET_CLIENT, undefined, ["client"]],
        ["kube-apiserver-etcd-client", undefined, ["client"]],
        // Kubernetes' system:monitoring role, bound to this group from the start, reads /metrics and health checks only.
        ["kube-dumb-way-monitor", "system:monitoring", ["client"]],
    ]);
});

test("a node certificate names the node and its address and serves the kubelet API", () => {
    assert.deepEqual(pki.nodeCert("kdw-worker-1", "192.168.99.51"), {
        commonName: "system:node:kdw-worker-1", organization: "system:nodes",
        dnsNames: ["kdw-worker-1"], ipAddresses: ["192.168.99.51"], usages: ["client", "server"],
    });
});

test("the apiserver certificate covers controllers, loopback, the service IP and the service names", () => {
    const spec = pki.apiserverCert(cfg, ["192.168.99.10", "192.168.99.11", "192.168.99.12"]);
    assert.equal(spec.commonName, "kubernetes");
    assert.deepEqual(spec.ipAddresses, ["127.0.0.1", "10.32.0.1", "192.168.99.10", "192.168.99.11", "192.168.99.12"]);
    assert.deepEqual(spec.dnsNames, ["kubernetes", "kubernetes.default", "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local", "localhost", "kdw-controller-0", "kdw-controller-1", "kdw-controller-2"]);
    assert.deepEqual(spec.usages, ["server"]);
});

test("a configured API endpoint joins the apiserver certificate as a name or an address", () => {
    const byName = validateConfig({ binarySource: "/bin", apiServerEndpoint: "k8s.lab.example" }, { fileExists: () => true });
    assert.ok(pki.apiserverCert(byName, ["10.0.0.1"]).dnsNames.includes("k8s.lab.example"));
    const byIp = validateConfig({ binarySource: "/bin", apiServerEndpoint: "192.168.99.100" }, { fileExists: () => true });
    assert.ok(pki.apiserverCert(byIp, ["10.0.0.1"]).ipAddresses.includes("192.168.99.100"));
    const custom = validateConfig({ binarySource: "/bin", clusterDomain: "lab.internal", serviceCidr: "10.96.0.0/12",
        clusterDns: "10.96.0.10" }, { fileExists: () => true });
    const spec = pki.apiserverCert(custom, []);
    assert.ok(spec.dnsNames.includes("kubernetes.default.svc.lab.internal"));
    assert.ok(spec.ipAddresses.includes("10.96.0.1"));
});

test("the virtual IP joins the apiserver certificate, beside a configured endpoint name", () => {
    const vip = validateConfig({ binarySource: "/bin", apiServerVip: "192.168.99.250", apiServerEndpoint: "k8s.lab.example" },
        { fileExists: () => true });
    const spec = pki.apiserverCert(vip, ["192.168.99.10"]);
    assert.deepEqual(spec.ipAddresses, ["127.0.0.1", "10.32.0.1", "192.168.99.10", "192.168.99.250"]);
    assert.ok(spec.dnsNames.includes("k8s.lab.example"));
});

test("kube-vip has an identity of its own, in no group", () => {
    assert.deepEqual(pki.kubeVipCert(), { commonName: "kube-vip", organization: undefined, dnsNames: [], ipAddresses: [], usages: ["client"] });
});

test("etcd certificates name the member for clients and peers", () => {
    assert.deepEqual(pki.etcdServerCert("kdw-controller-0", "192.168.99.10").ipAddresses, ["192.168.99.10", "127.0.0.1"]);
    assert.deepEqual(pki.etcdPeerCert("kdw-controller-0", "192.168.99.10").dnsNames, ["kdw-controller-0"]);
});

test("usages map to x509 extended key usages", () => {
    assert.deepEqual(pki.allowedUses(["client"]), ["digital_signature", "key_encipherment", "client_auth"]);
    assert.deepEqual(pki.allowedUses(["server", "client"]), ["digital_signature", "key_encipherment", "server_auth", "client_auth"]);
});
