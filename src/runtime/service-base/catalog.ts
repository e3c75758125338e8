// A built-in broker's catalog (OSBAPI v2 `GET /v2/catalog`): one offering with its plans. The ids
// never change (the platform correlates offerings and plans by id only).
export interface OfferingPlan {
  id: string;
  name: string;
  description: string;
  /** The plan's bullets in the marketplace (its limits). */
  bullets: string[];
  /** More of the plan's metadata (its limits as numbers). */
  metadata?: Record<string, unknown>;
}

export interface Offering {
  id: string;
  name: string;
  description: string;
  tags: string[];
  displayName: string;
  documentationUrl: string;
  /** Whether an instance may move to another of its plans. */
  planUpdateable: boolean;
  plans: readonly OfferingPlan[];
}

export const planOf = (offering: Offering, id: string): OfferingPlan | undefined => offering.plans.find((p) => p.id === id);

export function catalogOf(offering: Offering): Record<string, unknown> {
  return {
    services: [
      {
        id: offering.id,
        name: offering.name,
        description: offering.description,
        tags: offering.tags,
        bindable: true,
        instances_retrievable: true,
        bindings_retrievable: true,
        plan_updateable: offering.planUpdateable,
        metadata: { displayName: offering.displayName, providerDisplayName: 'devbox', documentationUrl: offering.documentationUrl },
        plans: offering.plans.map((p) => ({
          id: p.id,
          name: p.name,
          description: p.description,
          free: true,
          bindable: true,
          metadata: { displayName: p.name, bullets: p.bullets, ...p.metadata },
        })),
      },
    ],
  };
}
