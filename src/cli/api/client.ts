// The client every API command uses: the transport (requests with the session's token, lists,
// jobs, errors) with one part per kind of resource, `client.apps.summary(name)`,
// `client.routes.mapByName(app, spec)`, ... The parts reach each other through the client.
import { Session } from '../session.js';
import { Apps } from './apps.js';
import { Builds } from './builds.js';
import { Orgs } from './orgs.js';
import { Platform } from './platform.js';
import { Processes } from './processes.js';
import { Routes } from './routes.js';
import { Services } from './services.js';
import { Ssh } from './ssh.js';
import { Targeting } from './target.js';
import { Tasks } from './tasks.js';
import { ApiTransport } from './transport.js';

export class ApiClient extends ApiTransport {
  readonly orgs = new Orgs(this);
  readonly target = new Targeting(this);
  readonly apps = new Apps(this);
  readonly processes = new Processes(this);
  readonly builds = new Builds(this);
  readonly routes = new Routes(this);
  readonly services = new Services(this);
  readonly tasks = new Tasks(this);
  readonly ssh = new Ssh(this);
  readonly platform = new Platform(this);

  /** The client of the session API commands run in (see Session.resume); targets devbox/dev in a new session. */
  static async connect(home: string): Promise<ApiClient> {
    const { session, fresh } = await Session.resume(home);
    const client = new ApiClient(session);
    if (fresh) await client.target.useDefault();
    return client;
  }
}
