// Runs devbox's router component from the sources, exactly as `devbox component router` does
// (status server, bus connection, worker processes), for the benchmarks:
//   node --import tsx bench/router-server.ts HOME NATS_URL PORT
// HOME must hold a config.json (the benchmark creates one). DEVBOX_ROUTER_* settings apply.
import { runComponent } from '../src/runtime/common/component.js';
import router from '../src/runtime/router/component.js';

const [home, natsUrl, port] = process.argv.slice(2);
await runComponent(router, { name: 'router', home, natsUrl, port: Number(port), statusPort: 0 });
