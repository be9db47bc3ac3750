// The official Centrifuge JavaScript client (npm `centrifuge`, protocol v2 JSON
// over WebSocket) against the sandbox's Grafana Live endpoint: connect,
// subscribe to CHANNEL, print SUBSCRIBED, then print each publication's data
// and offset as one JSON line until COUNT arrived; exit 0. Any error or 10 s
// without them exits non-zero with the reason on stderr.
//
// node check.mjs ws://127.0.0.1:PORT/api/live/ws CHANNEL COUNT
import { Centrifuge } from 'centrifuge';
import WebSocket from 'ws';

const [url, channel, count] = process.argv.slice(2);
const want = Number(count);
const fail = (why) => {
  console.error(why);
  process.exit(2);
};
setTimeout(() => fail(`timed out waiting for ${want} publications`), 10000);

// `ws`: node before 22 has no global WebSocket.
const client = new Centrifuge(url, { timeout: 5000, websocket: WebSocket });
client.on('error', (ctx) => fail(`client error: ${JSON.stringify(ctx)}`));
client.on('disconnected', (ctx) => fail(`disconnected: ${ctx.code} ${ctx.reason}`));
const sub = client.newSubscription(channel);
sub.on('error', (ctx) => fail(`subscription error: ${JSON.stringify(ctx)}`));
sub.on('subscribed', () => console.log('SUBSCRIBED'));
let received = 0;
sub.on('publication', (ctx) => {
  console.log(JSON.stringify({ offset: ctx.offset, data: ctx.data }));
  received += 1;
  if (received === want) {
    sub.unsubscribe();
    client.removeAllListeners('disconnected');
    client.disconnect();
    setTimeout(() => process.exit(0), 100);
  }
});
sub.subscribe();
client.connect();
