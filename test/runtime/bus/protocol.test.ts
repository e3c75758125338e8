// The same protocol suite against devbox's embedded BusServer and against nats-server 2.9.10.
import { defineProtocolSuite } from './protocol.suite.js';

defineProtocolSuite('embedded');
defineProtocolSuite('nats-server');
