// The sample app of the README's quick start: a Node app without dependencies that shows what Cloud
// Foundry gives an app (its index, its environment, its bound services).
const http = require('http');

const port = Number(process.env.PORT) || 8080;
const app = JSON.parse(process.env.VCAP_APPLICATION || '{}');

http
  .createServer((req, res) => {
    if (req.url === '/env') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ VCAP_APPLICATION: app, VCAP_SERVICES: JSON.parse(process.env.VCAP_SERVICES || '{}') }, null, 2));
      return;
    }
    console.log(`${req.method} ${req.url}`);
    res.end(`Hello from ${app.application_name || 'hello-node'}, instance ${process.env.CF_INSTANCE_INDEX}\n`);
  })
  .listen(port, () => console.log(`listening on ${port}`));

process.on('SIGTERM', () => process.exit(0));
