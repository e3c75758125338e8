// The component registry: every component devbox can run, loaded on demand so that a component
// process only imports its own code. Each later component adds itself here and to the plan in
// supervisor/plan.ts.
import type { ComponentModule } from './common/component.js';

export const componentModules: Record<string, () => Promise<ComponentModule>> = {
  bus: async () => (await import('./bus/component.js')).default,
  router: async () => (await import('./router/component.js')).default,
  uaa: async () => (await import('./uaa/component.js')).default,
  controller: async () => (await import('./controller/component.js')).default,
  dea: async () => (await import('./dea/component.js')).default,
  health: async () => (await import('./health/component.js')).default,
  logs: async () => (await import('./logs/component.js')).default,
  'mysql-gateway': async () => (await import('./mysql-gateway/component.js')).default,
  'mysql-node': async () => (await import('./mysql-node/component.js')).default,
  'redis-gateway': async () => (await import('./redis-gateway/component.js')).default,
  'redis-node': async () => (await import('./redis-node/component.js')).default,
  'ssh-proxy': async () => (await import('./ssh-proxy/component.js')).default,
};

export const componentNames = () => Object.keys(componentModules);

export async function loadComponent(name: string): Promise<ComponentModule> {
  const load = componentModules[name];
  if (!load) throw new Error(`unknown component '${name}'; known: ${componentNames().join(', ')}`);
  return load();
}
