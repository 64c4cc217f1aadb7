// The package's public API (package.json `exports`): what another Pulumi program needs to make a cluster of its own.
//
//   import { KubeCluster, clusterConfig } from "kube-dumb-way-pulumi";
//   const lab = new KubeCluster("lab", { config: clusterConfig({ controllers: 3, workers: 2 }) });
//
// `clusterConfig` takes the same settings as the stack's config (docs/configuration.md) and throws a ConfigError that
// names every setting that is wrong, before anything is made.
export { HostOutput, KubeCluster, KubeClusterArgs } from "./components/cluster";
// A program that keeps its cluster's `machines` output can find lost machines as this project's entry does (main.ts):
// `replacedMachines(recordedMachines(<that output, read back>))` gives KubeClusterArgs.replacedMachines.
export { MachineRecord, recordedMachines, replacedMachines } from "./host/identity";
// And etcd members it does not declare (a failed resize's): `findUndeclaredMembers(<config.controllers' names and
// addresses>, <those machines>, <its etcdUndeclaredMembersRemoved output, read back>)` gives
// KubeClusterArgs.etcdUndeclaredMembers, which the cluster removes.
export { findUndeclaredMembers } from "./host/etcdMembers";
// A program that keeps its cluster's outputs gives `runningEncryption(<them, read back>)` as
// KubeClusterArgs.runningEncryption, so that the cluster keeps its provider and key, and rotates them safely.
export { DeployedCluster, RunningEncryption, runningEncryption } from "./config/upgrade";
export { SecretsEncryption } from "./config/types";
export {
    BinarySource, ClusterConfig, clusterConfig, ConfigError, GenericHost, HostProfileSetting, NodePlan, NodeRole, RawConfig,
    Versions,
} from "./config";
