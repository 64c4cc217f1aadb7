import { fakeBinaryFolder, runProgram, ProgramRun } from "./program";
import { graphTests } from "./graphChecks";

let result: Promise<ProgramRun> | undefined;
const run = () => (result ??= runProgram({ controllers: 3, workers: 3, binarySource: fakeBinaryFolder() }));

graphTests("3 controllers + 3 workers", 3, 3, run);
