// Parses mermaid charts with the real mermaid package and builds each gantt's task list (which rejects
// invalid dates that parse() lets through). Reads the chart sources as a JSON array on stdin; prints
// one JSON result per chart: {"ok": true, "tasks": n} or {"ok": false, "error": "..."}.
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!DOCTYPE html><body></body>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });

let input = "";
for await (const chunk of process.stdin) input += chunk;
const results = [];
for (const text of JSON.parse(input)) {
  try {
    await mermaid.parse(text);
    const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
    const tasks = diagram.db.getTasks();
    for (const t of tasks) {
      if (!(t.startTime instanceof Date) || isNaN(t.startTime) || !(t.endTime instanceof Date) || isNaN(t.endTime)) {
        throw new Error(`task ${t.task}: invalid date`);
      }
    }
    results.push({ ok: true, type: diagram.type, tasks: tasks.map((t) => ({ task: t.task.trim(), section: t.section, start: t.startTime.toISOString(), end: t.endTime.toISOString() })) });
  } catch (e) {
    results.push({ ok: false, error: String(e && e.message || e).split("\n")[0] });
  }
}
process.stdout.write(JSON.stringify(results) + "\n");
