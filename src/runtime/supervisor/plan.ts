// Which components a box runs, in start order (DESIGN.md §1). Each later component joins the plan.
export interface ComponentSpec {
  name: string;
  index: number;
  /** Started before the others, which wait for it to be healthy. */
  first?: boolean;
}

export interface PlanOptions {
  /** An external NATS server: the box runs no bus of its own. */
  externalBus: boolean;
  /** How many DEAs (`up --deas N`), each with its own id (dea-<index>) and directory. */
  deas?: number;
}

export function boxPlan({ externalBus, deas = 1 }: PlanOptions): ComponentSpec[] {
  const plan: ComponentSpec[] = [];
  if (!externalBus) plan.push({ name: 'bus', index: 0, first: true });
  plan.push({ name: 'router', index: 0 });
  plan.push({ name: 'uaa', index: 0 });
  plan.push({ name: 'controller', index: 0 });
  plan.push({ name: 'logs', index: 0 });
  for (let index = 0; index < deas; index++) plan.push({ name: 'dea', index });
  plan.push({ name: 'health', index: 0 });
  plan.push({ name: 'mysql-gateway', index: 0 });
  plan.push({ name: 'mysql-node', index: 0 });
  plan.push({ name: 'redis-gateway', index: 0 });
  plan.push({ name: 'redis-node', index: 0 });
  plan.push({ name: 'ssh-proxy', index: 0 });
  return plan;
}
