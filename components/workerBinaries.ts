import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { BinarySource, Versions, WORKER_BINARIES } from "../config/types";
import { BinarySet, cacheHome, relativePath, setDigest, setPins, stageFolder, verifyFolder, WorkerBinarySet } from "../host/binaries";
import { localScript, shellQuote } from "../host/remote";

export interface WorkerBinariesArgs {
    source: BinarySource;
    versions: Versions;
    /** Where downloads and staged folders are kept; one folder per set of digests. Default: cacheHome(). */
    cacheDir?: string;
}

/**
 * The binaries workers need, on the machine running Pulumi, as one folder per set of digests: fetched once (and
 * verified against pinned digests) or staged from a checked local folder. WorkerNode copies the folder to each worker.
 */
export class WorkerBinaries extends pulumi.ComponentResource {
    readonly set: pulumi.Output<WorkerBinarySet>;

    constructor(name: string, args: WorkerBinariesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dumbway:index:WorkerBinaries", name, {}, opts);
        const source = args.source;
        const cache = args.cacheDir ?? cacheHome();
        if (source.kind === "folder") {
            this.set = pulumi.output(stageFolder(verifyFolder(source.path, source.checksums, args.versions),
                path.join(cache, "staged")));
        } else {
            const pins = setPins(b => source.checksums[b]);
            const digest = setDigest(pins);
            const dir = path.join(cache, "binaries", digest.slice(0, 16));
            const fetch = new command.local.Command(`${name}-fetch`, {
                create: `sh -c ${shellQuote(localScript("fetch-binaries.sh"))} fetch`,
                environment: { KDW_BASE_URL: source.baseUrl, KDW_DIR: dir, KDW_PINS: pins },
                triggers: [source.baseUrl, pins],
            }, { parent: this });
            this.set = fetch.stdout.apply(() => ({
                binaries: Object.fromEntries(WORKER_BINARIES.map(b =>
                    [b, { path: path.join(dir, relativePath(b)), sha256: source.checksums[b] }])) as BinarySet,
                folder: dir, digest,
            }));
        }
        this.registerOutputs({ folder: this.set.folder, digest: this.set.digest });
    }
}
