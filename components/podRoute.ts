import * as pulumi from "@pulumi/pulumi";
import { MachineHost } from "./machineHost";
import { asset, hostStep } from "./remote";

export interface PodRouteArgs {
    /** The host that gets the route. */
    on: MachineHost;
    /** The worker whose pod range it routes to. */
    to: MachineHost;
    podCidr: string;
}

/** On one host, the route to one worker's pod range via that worker: `ip route replace <cidr> via <worker ip>`. */
export class PodRoute extends pulumi.ComponentResource {
    constructor(name: string, args: PodRouteArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dumbway:index:PodRoute", name, {}, opts);
        if (args.on === args.to) {
            throw new Error(`PodRoute ${name}: a worker needs no route to its own pod range`);
        }
        const route = hostStep(`${name}-route`, {
            connection: args.on.connection,
            script: asset("pod-route.sh"),
            env: pulumi.all([args.on.layout, args.to.ip]).apply(([l, via]) => ({
                KDW_HOME: l.home, KDW_POD_CIDR: args.podCidr, KDW_VIA: via,
            })),
        }, { parent: this, dependsOn: [args.on.ready] });
        this.registerOutputs({ route: route.id });
    }
}

/** Every (host, worker) pair that needs a route: each worker's range on every other host. */
export function routePairs<T>(hosts: T[], workers: { host: T; podCidr: string }[]): { on: T; to: T; podCidr: string }[] {
    return workers.flatMap(w => hosts.filter(h => h !== w.host).map(h => ({ on: h, to: w.host, podCidr: w.podCidr })));
}
