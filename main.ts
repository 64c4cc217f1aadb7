// The program's entry (package.json `main`): reads back what the stack's last update left (its own outputs), refuses a
// change the running cluster cannot take (a Kubernetes version change the skew policy does not allow, another
// secrets-encryption provider without a rotation) before any resource is registered (config/upgrade.ts), and a config
// that gives a machine one node runs to another or running machines settings they cannot take (host/identity.ts), looks up the snapshot a
// restore names in the object store (config/restore.ts), reads every recorded machine's host to find those lost
// since (host/identity.ts) and etcd's member list for members the stack does not declare (host/etcdMembers.ts), then builds the cluster (index.ts, the recipe). Its exports are the stack outputs.
import { deployedCluster, refuseUnsupportedChange, runningEncryption } from "./config/upgrade";
import { recordedMachines, replacedMachines } from "./host/identity";
import { refuseMachineChanges, snapshotToRestore, stack, undeclaredEtcdMembers } from "./index";

export = deployedCluster().then(async deployed => {
    refuseUnsupportedChange(deployed);
    const recorded = recordedMachines(deployed.machines);
    refuseMachineChanges(recorded);
    const snapshotSha256 = await snapshotToRestore();
    const [replaced, undeclared] = await Promise.all([replacedMachines(recorded),
        undeclaredEtcdMembers(recorded, deployed.etcdUndeclaredMembersRemoved)]);
    return stack(replaced, runningEncryption(deployed), snapshotSha256, undeclared);
});
