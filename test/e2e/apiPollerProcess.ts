// The API poller's own process (apiPoller.ts pollApi): says "polling" once its first request is sent, polls until its
// parent sends "stop", then sends the figures back and exits; exits too when its parent is gone.
import { pollInThisProcess } from "./apiPollerLoop";

const [kubeconfigPath, apiPath, everyMs] = process.argv.slice(2);
const poller = pollInThisProcess(kubeconfigPath, apiPath, Number(everyMs));
process.on("message", async message => {
    if (message === "stop") {
        process.send!(await poller.stop(), () => process.exit(0));
    }
});
process.on("disconnect", () => process.exit(1));
process.send!("polling");
