import { fakeBinaryFolder, runProgram, ProgramRun } from "./program";
import { graphTests } from "./graphChecks";

let result: Promise<ProgramRun> | undefined;
const run = () => (result ??= runProgram({ controllers: 1, workers: 1, binarySource: fakeBinaryFolder() }));

graphTests("1 controllers + 1 workers", 1, 1, run);
