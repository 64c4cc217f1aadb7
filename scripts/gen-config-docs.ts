// Writes the table of settings in docs/configuration.md from the settings' table (config/settings.ts), between its
// markers: `npm run docs:config`. A unit test fails when the docs differ from what this writes.
import { readFileSync, writeFileSync } from "fs";
import * as path from "path";
import { SETTINGS } from "../config/settings";

export const DOCS = path.join(__dirname, "..", "..", "docs", "configuration.md");
const BEGIN = "<!-- settings: written by `npm run docs:config` from config/settings.ts -->\n";
const END = "<!-- end of settings -->";

const shown = (value: unknown) => `\`${typeof value === "string" && value ? value : JSON.stringify(value)}\``;

/** `docs` with the table between the markers made again from the settings. */
export function withSettings(docs: string): string {
    const [start, end] = [docs.indexOf(BEGIN), docs.indexOf(END)];
    if (start < 0 || end < start) {
        throw new Error(`${DOCS} lacks the markers ${BEGIN.trim()} … ${END}`);
    }
    const rows = Object.entries(SETTINGS).map(([name, s]) =>
        `| \`${name}\` | ${s.type} | ${shown(s.default)} | ${s.description.replace(/\|/g, "\\|")} |`);
    return docs.slice(0, start) + BEGIN + ["| Key | Type | Default | Meaning |", "|---|---|---|---|", ...rows, ""].join("\n") +
        docs.slice(end);
}

if (require.main === module) {
    writeFileSync(DOCS, withSettings(readFileSync(DOCS, "utf8")));
}
