/**
 * A TCP proxy on loopback that delays every chunk, each way, by a delay the test changes while it
 * runs: a real latency injection in front of redis-server (load shedding is tested with it), not a
 * fake clock. Order is kept (each direction is one queue).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface LatencyProxy {
  port: number;
  url: string;
  /** The delay each chunk gets from now on, per direction (ms). */
  setDelay(ms: number): void;
  close(): Promise<void>;
}

export async function startLatencyProxy(target: { host?: string; port: number }): Promise<LatencyProxy> {
  let delayMs = 0;
  const sockets = new Set<Socket>();
  const relay = (from: Socket, to: Socket) => {
    // Each chunk is released no earlier than its arrival + the delay, and after the chunk before it.
    let releaseAt = 0;
    from.on('data', (chunk) => {
      releaseAt = Math.max(releaseAt, Date.now() + delayMs);
      setTimeout(() => to.writable && to.write(chunk), Math.max(0, releaseAt - Date.now()));
    });
    from.on('close', () => to.destroy());
    from.on('error', () => to.destroy());
  };
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host ?? '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('close', () => sockets.delete(client));
    upstream.on('close', () => sockets.delete(upstream));
    relay(client, upstream);
    relay(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    setDelay: (ms) => {
      delayMs = ms;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
