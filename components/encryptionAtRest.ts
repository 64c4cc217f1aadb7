import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { SecretsEncryption } from "../config/types";
import { EncryptionKey, encryptionPhases } from "../render/configFiles";
import { IssuedCert } from "./certAuthority";
import { APISERVER_SCRIPT_LIBRARIES } from "./controlPlane";
import { MachineHost } from "./machineHost";
import { hostScript, rollingStep, rollOnlyStep, shellQuote, withAdminKubeconfig } from "../host/remote";

export interface EncryptionAtRestArgs {
    controllers: MachineHost[];
    provider: SecretsEncryption;
    /** The generation of the key that encrypts (its name in messages; `current` holds it too, as a secret). */
    generation: number;
    /** Secret: the key that encrypts. */
    current: pulumi.Input<EncryptionKey>;
    /** Secret: the key it took over from (the generation before), none for the first key. */
    previous?: pulumi.Input<EncryptionKey>;
    apiServerPort: number;
    /** What encryption.sh reads the apiserver's metrics with: which configuration it loaded (render/pki.ts). */
    monitor: IssuedCert;
    /** Secret: the admin's kubeconfig, for the rewrite of every Secret. */
    adminKubeconfig: pulumi.Input<string>;
    /** What the rotation's first step waits for: the previous roll (the last etcd member's). */
    rollsAfter: pulumi.Resource[];
}

/**
 * The apiservers' encryption of Secrets at rest (encryption.sh on each controller). A new controller gets the current
 * configuration before its apiserver first starts (`installed`). A new key (a rotation) reaches the running apiservers
 * in Kubernetes' documented order, each phase one controller at a time, each apiserver using it before the next (it
 * reloads the file without a restart, see encryption.sh): the new key reads everywhere (`read`), then writes everywhere
 * (`write`), then every Secret is rewritten with it, then the old key is dropped (`final`). The phases' contents
 * depend only on the current and previous keys, so a finished rotation leaves nothing to do, and an interrupted one
 * resumes where it stopped.
 */
export class EncryptionAtRest extends pulumi.ComponentResource {
    /** Per controller, in order: done when its configuration is in place for its apiserver's first start. */
    readonly installed: pulumi.Resource[];
    /** Done when the current configuration has reached every apiserver. */
    readonly rolled: pulumi.Resource;

    constructor(name: string, args: EncryptionAtRestArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dumbway:index:EncryptionAtRest", name, {}, opts);
        const phases = pulumi.all([args.current, args.previous]).apply(([current, previous]) =>
            encryptionPhases(args.provider, current, previous));
        const step = (host: MachineHost, phase: "read" | "write" | "final") => ({
            connection: host.connection,
            script: hostScript("encryption.sh"),
            libraries: APISERVER_SCRIPT_LIBRARIES,
            files: [
                {
                    path: host.layout.apply(l => `${l.etc}/control-plane/encryption-config.yaml`),
                    content: pulumi.secret(phases[phase]), mode: "0600",
                },
                // Installed with the last phase, the one a new controller gets: a renewed certificate then changes no
                // rotation phase, which would write that phase's keys again.
                ...(phase === "final" ? [
                    { path: host.layout.apply(l => `${l.etc}/encryption-monitor/client.pem`), content: args.monitor.certPem },
                    {
                        path: host.layout.apply(l => `${l.etc}/encryption-monitor/client-key.pem`),
                        content: args.monitor.keyPem, mode: "0600",
                    },
                ] : []),
            ],
            env: host.layout.apply(l => ({
                KDW_NODE: host.nodeName, KDW_ETC: l.etc, KDW_PORT: String(args.apiServerPort), KDW_PHASE: phase,
            })),
        });
        let after = args.rollsAfter;
        for (const phase of ["read", "write"] as const) {
            for (const host of args.controllers) {
                after = [rollOnlyStep(`${host.nodeName}-encryption-${phase}`, step(host, phase), { parent: this, rollsAfter: after })];
            }
        }
        const encryption = shellQuote(`${args.provider} key generation ${args.generation}`);
        const rewrite = new command.local.Command(`${name}-rewrite-secrets`, {
            update: `KDW_ENCRYPTION=${encryption} sh -c ${shellQuote(withAdminKubeconfig("rewrite-secrets.sh"))} kdw`,
            stdin: args.adminKubeconfig,
            logging: "stdoutAndStderr",
        }, { parent: this, dependsOn: after });
        after = [rewrite];
        this.installed = args.controllers.map(host => {
            const final = rollingStep(`${host.nodeName}-encryption`, { ...step(host, "final"), machineId: host.machineId },
                { parent: this, dependsOn: [host.ready], rollsAfter: after });
            after = [final.roll];
            return final.install;
        });
        this.rolled = after[0];
        this.registerOutputs({ rolled: this.rolled.urn });
    }
}
