// The program's entry (package.json `main`): refuses a change the running cluster cannot take (a Kubernetes version
// change the skew policy does not allow, a new controller count) before any resource is registered
// (config/upgrade.ts), then builds the cluster (index.ts, the recipe). Its exports are the stack outputs.
import { refuseUnsupportedChange } from "./config/upgrade";

export = refuseUnsupportedChange().then(() => require("./index"));
