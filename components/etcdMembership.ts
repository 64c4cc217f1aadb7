import * as pulumi from "@pulumi/pulumi";
import { CertAuthority } from "./certAuthority";
import { ETCD_CLIENT_PORT, ETCD_PEER_PORT, Member } from "../render/flags";
import { MachineHost } from "./machineHost";
import { clientCert } from "../render/pki";
import { hostScript, settingStep } from "../host/remote";

/** etcdctl with a client certificate of its own (host/scripts/lib-etcdctl.sh), for etcd-membership.sh and etcd-restore.sh. */
export const ETCDCTL_LIBRARY = "lib-etcdctl.sh";

export interface EtcdMembershipArgs {
    /** The controller it runs on: the first, which a control plane that shrinks keeps. */
    host: MachineHost;
    /** The declared members. */
    members: pulumi.Input<Member[]>;
    /**
     * Members etcd has at no declared controller's address (host/etcdMembers.ts), or what the last run recorded: a
     * change makes the step run (and remove them) though the declared members are as its record says.
     */
    undeclared: string;
    etcdCa: CertAuthority;
    /** The etcd image: its etcdctl reads and changes the member list. */
    image: string;
    /** What it waits for: every controller's host prepared (a new one's member joins by itself meanwhile). */
    dependsOn: pulumi.Resource[];
}

/**
 * etcd's members made the declared controllers when the control plane changes size (host/scripts/etcd-membership.sh):
 * once every declared member has joined (a new controller's member joins by itself, etcd.sh), each member no longer
 * declared is removed, one at a time and never at the cost of the majority. It runs when the list of members changes,
 * before any member rolls to the new list (its `done` heads the roll chain), and before the controllers that leave
 * are taken down (Pulumi deletes after every update).
 */
export class EtcdMembership extends pulumi.ComponentResource {
    /** Done when etcd's members are the declared ones. */
    readonly done: pulumi.Resource;
    /** `undeclared`, once the step has run with it (or its record already had it). */
    readonly undeclaredRemoved: pulumi.Output<string>;

    constructor(name: string, args: EtcdMembershipArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dumbway:index:EtcdMembership", name, {}, opts);
        const { host, etcdCa } = args;
        const client = etcdCa.issue(`${name}-client`, clientCert("kube-dumb-way-etcd-membership"), this);
        const work = host.layout.apply(l => `${l.etc}/etcd-membership`);
        const step = settingStep(`${name}-members`, {
            connection: host.connection,
            script: hostScript("etcd-membership.sh"),
            libraries: [ETCDCTL_LIBRARY],
            files: [
                { path: work.apply(w => `${w}/pki/ca.pem`), content: etcdCa.certPem },
                { path: work.apply(w => `${w}/pki/client.pem`), content: client.certPem },
                { path: work.apply(w => `${w}/pki/client-key.pem`), content: client.keyPem, mode: "0600" },
            ],
            env: pulumi.all([host.layout, args.members]).apply(([l, members]) => ({
                KDW_NODE: host.nodeName, KDW_ETC: l.etc, KDW_IMAGE: args.image,
                KDW_ETCD_ENDPOINTS: members.map(m => `https://${m.ip}:${ETCD_CLIENT_PORT}`).join(","),
                KDW_ETCD_PEERS: members.map(m => `https://${m.ip}:${ETCD_PEER_PORT}`).join(","),
                // Only when there is one, so that a stack recorded before it was sees no change.
                ...args.undeclared ? { KDW_ETCD_UNDECLARED: args.undeclared } : {},
            })),
        }, { parent: this, dependsOn: args.dependsOn });
        this.done = step;
        this.undeclaredRemoved = step.stdout.apply(() => args.undeclared);
        this.registerOutputs({ done: this.done.urn, undeclaredRemoved: this.undeclaredRemoved });
    }
}
