import net from 'node:net';

/**
 * Ask the OS for a currently free TCP port on 127.0.0.1 (listen on port 0,
 * read the assigned port, close). There is an inherent race between closing
 * and the caller binding it; callers that start servers should retry on
 * EADDRINUSE.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('freePort: could not determine the assigned port'));
        return;
      }
      const { port } = address;
      server.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}
