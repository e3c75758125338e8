// Progress of `devbox up` with listr2: one line per component, ticked when it answers /healthz. The
// events come from the supervisor in this process (foreground) or over IPC from a detached one. At
// any terminal width: 0 columns is taken as 80, under 20 the lines are plain (steps.ts).
import { Listr } from 'listr2';
import type { SupervisorEvent } from '../runtime/supervisor/supervisor.js';
import { progressColumns, sizeTerminal } from './steps.js';

export type EventSource = (listener: (event: SupervisorEvent) => void) => void;

export async function showStartProgress(components: string[], onEvent: EventSource): Promise<void> {
  const waiting = new Map<string, { resolve: (title: string) => void; reject: (error: Error) => void }>();
  const results = new Map<string, Promise<string>>();
  for (const name of components) {
    results.set(name, new Promise<string>((resolve, reject) => waiting.set(name, { resolve, reject })));
    results.get(name)!.catch(() => undefined);
  }
  onEvent((event) => {
    if (event.type === 'healthy') {
      waiting.get(event.component)?.resolve(`${event.component} (pid ${event.pid}, ${event.ms} ms)`);
      waiting.delete(event.component);
    }
    // The start failed: said once, on the first component not yet healthy (listr stops there), not
    // once per component still waiting.
    if (event.type === 'failed') {
      const first = waiting.values().next().value;
      waiting.clear();
      first?.reject(new Error(event.message.split('\n')[0]));
    }
  });
  sizeTerminal();
  const tasks = new Listr(
    components.map((name) => ({
      title: `starting ${name}`,
      task: async (_ctx: unknown, task: { title: string }) => {
        task.title = await results.get(name)!;
      },
    })),
    // Plain lines (listr2's simple renderer) in a pipe (listr2's own choice) and on a terminal under 20 columns.
    { concurrent: true, exitOnError: true, rendererOptions: { collapseErrors: true }, fallbackRendererOptions: {}, fallbackRendererCondition: () => progressColumns(process.stdout.columns) === undefined },
  );
  await tasks.run();
}
