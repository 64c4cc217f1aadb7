import { fakeBinaryFolder, runProgram, ProgramRun } from "./program";
import { graphTests } from "./graphChecks";

let result: Promise<ProgramRun> | undefined;
const run = () => (result ??= runProgram({ controllers: 5, workers: 7, binarySource: fakeBinaryFolder() }));

graphTests("5 controllers + 7 workers", 5, 7, run);
