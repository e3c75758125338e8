// The small app the router benchmark measures: a plain node:http server with a short body, as a
// separate process (`node --import tsx bench/router-backend.ts PORT`). Prints "listening" when ready.
import http from 'node:http';

const body = Buffer.from('hello from the backend\n');
const server = http.createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
  res.end(body);
});
// Longer than any pause in the benchmark, so that no proxy meets a connection closed while idle.
server.keepAliveTimeout = 65_000;
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  const address = server.address();
  console.log(`listening ${typeof address === 'object' && address ? address.port : ''}`);
});
process.on('SIGTERM', () => process.exit(0));
