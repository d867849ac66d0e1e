/** A real nginx (Debian package) started by a test: round-robin over upstreams, SSE-friendly. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from '../index.js';

export interface NginxHandle {
  url: string;
  stop(): Promise<void>;
}

/**
 * `failTimeoutS`: how long an upstream that refused a connection is left out (nginx's
 * `fail_timeout`, 5 s here by default). A rolling restart faster than that would find every
 * upstream left out at once.
 */
export async function startNginx(upstreams: string[], options: { failTimeoutS?: number } = {}): Promise<NginxHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'agent-bridge-nginx-'));
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, sub));
  const port = await freePort();
  const servers = upstreams.map((u) => `    server ${new URL(u).host} max_fails=1 fail_timeout=${options.failTimeoutS ?? 5}s;`).join('\n');
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream elicitation {
${servers}
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://elicitation;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      # SSE: stream every event as it comes, and keep idle streams open (the server sends keep-alives).
      proxy_buffering off;
      proxy_cache off;
      proxy_read_timeout 3600s;
      proxy_next_upstream error timeout;
    }
  }
}
`,
  );
  const binary = process.env.NGINX_BIN ?? '/usr/sbin/nginx';
  const child: ChildProcess = spawn(binary, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.once('exit', () => child.kill('SIGKILL'));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`nginx exited: ${output}${safeRead(join(dir, 'error.log'))}`);
        try {
          await fetch(`${url}/healthz`);
          return true;
        } catch {
          return false;
        }
      },
      { timeoutMs: 10_000, description: 'nginx to listen' },
    );
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    url,
    async stop() {
      child.kill('SIGQUIT');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
