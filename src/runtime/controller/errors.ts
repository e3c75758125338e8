// Cloud Controller v3 errors: `{"errors":[{"code","title","detail"}]}` with CF's titles, codes and
// HTTP statuses, so that clients written for Cloud Foundry read them unchanged. Messages and actions
// raise them (as Cloud Controller's do); the HTTP layer renders them.
export const CF_ERRORS = {
  InvalidAuthToken: { code: 1000, status: 401 },
  MessageParseError: { code: 1001, status: 400 },
  InvalidRelation: { code: 1002, status: 400 },
  NotFound: { code: 10000, status: 404 },
  ServerError: { code: 10001, status: 500 },
  NotAuthenticated: { code: 10002, status: 401 },
  NotAuthorized: { code: 10003, status: 403 },
  InvalidRequest: { code: 10004, status: 400 },
  BadQueryParameter: { code: 10005, status: 400 },
  AssociationNotEmpty: { code: 10006, status: 422 },
  UnprocessableEntity: { code: 10008, status: 422 },
  ResourceNotFound: { code: 10010, status: 404 },
  UniquenessError: { code: 10016, status: 422 },
  RequestEntityTooLarge: { code: 10013, status: 413 },
  // A job's error: `<operation> could not be completed: <why>` (a broker's failure, in the job).
  UnableToPerform: { code: 10009, status: 400 },
  AsyncServiceInstanceOperationInProgress: { code: 60016, status: 409 },
  AsyncServiceBindingOperationInProgress: { code: 90008, status: 409 },
  // Cloud Controller gives it ServerError's code.
  ServiceBrokerBadResponse: { code: 10001, status: 502 },
  // A broker deleted while its catalog job ran.
  ServiceBrokerGone: { code: 270011, status: 422 },
} as const;

export type CfErrorName = keyof typeof CF_ERRORS;

export class ApiError extends Error {
  readonly status: number;
  readonly code: number;
  readonly title: string;

  constructor(name: CfErrorName, readonly detail: string) {
    super(detail);
    this.status = CF_ERRORS[name].status;
    this.code = CF_ERRORS[name].code;
    this.title = `CF-${name}`;
  }

  toJSON() {
    return { errors: [{ detail: this.detail, title: this.title, code: this.code }] };
  }
}

export const notFound = (resource: string) => new ApiError('ResourceNotFound', `${resource} not found`);
export const unprocessable = (detail: string) => new ApiError('UnprocessableEntity', detail);
export const notUnique = (detail: string) => new ApiError('UniquenessError', detail);
export const notAuthorized = () => new ApiError('NotAuthorized', 'You are not authorized to perform the requested action');
