import * as pulumi from "@pulumi/pulumi";
import { MachineHost } from "./machineHost";
import { hostScript, hostStep } from "../host/remote";

export interface PodRouteArgs {
    /** The host whose routes these are. */
    host: MachineHost;
    /** Every worker of the cluster with its pod range; the host gets a route to each one but itself. */
    workers: { host: MachineHost; podCidr: string }[];
    /** The whole pod range: pods on a worker going anywhere outside it are masqueraded. */
    clusterCidr: string;
}

export interface RouteTablePlan {
    hostName: string;
    routes: { podCidr: string; via: string }[];
    /** Set on workers, the only hosts with pods. */
    masquerade?: string;
}

/** The table kdw-routes keeps on a host (format in host/scripts/kdw-routes.sh). */
export function routeTable(plan: RouteTablePlan): string {
    return [
        `# Pod network of ${plan.hostName}, written by \`pulumi up\`; kdw-routes keeps the host as this says.`,
        ...(plan.masquerade ? [`masquerade ${plan.masquerade}`] : []),
        ...plan.routes.map(r => `route ${r.podCidr} ${r.via}`),
    ].join("\n") + "\n";
}

/**
 * The pod routes of one host: one step writes the host's route table (a route to every other worker's pod range via
 * that worker) and installs kdw-routes, a loop that re-applies the table whenever the host drifts from it, every 10 s
 * and at boot. Adding or removing a worker changes only the table's content, an in-place update of this step.
 */
export class PodRoute extends pulumi.ComponentResource {
    /** The step; done once the routes, masquerade rule and kernel settings are in place. */
    readonly applied: pulumi.Resource;

    constructor(name: string, args: PodRouteArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dumbway:index:PodRoute", name, {}, opts);
        const { host } = args;
        const others = args.workers.filter(w => w.host !== host);
        const isWorker = others.length < args.workers.length;
        const table = pulumi.all(others.map(w => w.host.ip)).apply(ips => routeTable({
            hostName: host.nodeName,
            routes: others.map((w, i) => ({ podCidr: w.podCidr, via: ips[i] })),
            masquerade: isWorker ? args.clusterCidr : undefined,
        }));
        this.applied = hostStep(`${name}-table`, {
            connection: host.connection,
            script: hostScript("pod-routes.sh"),
            env: host.layout.apply(l => ({ KDW_PROFILE: l.profile, KDW_HOME: l.home, KDW_ETC: l.etc })),
            machineId: host.machineId,
            // A new table is applied by kdw-routes in place, as any change to a host step is (its `up` again).
            files: pulumi.all([host.layout, table]).apply(([l, t]) => [
                { path: `${l.home}/bin/kdw-routes`, content: hostScript("kdw-routes.sh"), mode: "0755" },
                { path: `${l.etc}/pod-routes`, content: t },
            ]),
        }, { parent: this, dependsOn: [host.ready] });
        this.registerOutputs({ table });
    }
}
