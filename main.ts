// The program's entry (package.json `main`): refuses an unsupported Kubernetes version change before any resource is
// registered (config/upgrade.ts), then builds the cluster (index.ts, the recipe). Its exports are the stack outputs.
import { refuseUnsupportedUpgrade } from "./config/upgrade";

export = refuseUnsupportedUpgrade().then(() => require("./index"));
