import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { ConfigError, loadConfig } from './config.js';
import { RelayTargetPolicy, advertiseSettings, relayTargetSettings, resolveAdvertiseUrl } from './relay-targets.js';

const load = (env: Record<string, string>) => loadConfig('test', z.object(relayTargetSettings), env);

describe('relay allow rule (RELAY_ALLOWED_TARGETS)', () => {
  test('the default admits loopback addresses only', () => {
    const policy = RelayTargetPolicy.fromSettings(load({}));
    for (const address of ['http://127.0.0.1:8702', 'http://127.0.0.2:9', 'http://[::1]:8702', 'http://localhost:8702']) assert.equal(policy.check(address).allowed, true, address);
    for (const address of ['http://10.0.0.5:8702', 'http://169.254.169.254/latest', 'http://evil.example:80', 'http://localhost.evil.example']) assert.equal(policy.check(address).allowed, false, address);
  });

  test('CIDRs admit the addresses in them; a name pattern admits one label for each *, nothing more', () => {
    const policy = RelayTargetPolicy.fromSettings(load({ RELAY_ALLOWED_TARGETS: '10.244.0.0/16, fd00::/8, *.ab-elicitation-replicas.prod.svc' }));
    assert.equal(policy.check('http://10.244.3.7:8702').allowed, true);
    assert.equal(policy.check('http://10.245.0.1:8702').allowed, false);
    assert.equal(policy.check('http://[fd00::12]:8702').allowed, true);
    assert.equal(policy.check('http://10-244-3-7.ab-elicitation-replicas.prod.svc:8702').allowed, true);
    assert.equal(policy.check('http://10-244-3-7.AB-Elicitation-Replicas.prod.svc:8702').allowed, true, 'names ignore case');
    assert.equal(policy.check('http://a.b.ab-elicitation-replicas.prod.svc:8702').allowed, false, '* is one label');
    assert.equal(policy.check('http://ab-elicitation-replicas.prod.svc:8702').allowed, false);
    assert.equal(policy.check('http://x.ab-elicitation-replicas.prod.svc.evil.example').allowed, false);
    assert.equal(policy.check('http://127.0.0.1:8702').allowed, false, 'loopback is not in this list');
  });

  test('an address is refused with a sentence when it is not http(s), carries user info or is no URL', () => {
    const policy = RelayTargetPolicy.fromSettings(load({}));
    const why = (address: string) => {
      const result = policy.check(address);
      assert.equal(result.allowed, false, address);
      return (result as { why: string }).why;
    };
    assert.match(why('file:///etc/passwd'), /scheme file: is not http or https/);
    assert.match(why('http://user:pw@127.0.0.1:8702'), /user info/);
    assert.match(why('not a url'), /not a URL/);
    assert.match(why('http://10.0.0.1:8702'), /host 10\.0\.0\.1 does not pass RELAY_ALLOWED_TARGETS \(127\.0\.0\.0\/8, ::1, localhost\)/);
  });

  test('none admits nothing; a bad entry stops the service with a sentence naming the setting', () => {
    const policy = RelayTargetPolicy.fromSettings(load({ RELAY_ALLOWED_TARGETS: 'none' }));
    assert.equal(policy.check('http://127.0.0.1:8702').allowed, false);
    for (const bad of ['10.0.0.0/33', 'http://10.0.0.1', '*.*bad', '10.0.0.1:8702']) {
      assert.throws(
        () => load({ RELAY_ALLOWED_TARGETS: bad }),
        (error: Error) => error instanceof ConfigError && /RELAY_ALLOWED_TARGETS must be a comma-separated list/.test(error.message),
        bad,
      );
    }
  });

  test('ADVERTISE_URL with {pod-ip-dashed} becomes the pod DNS name; without POD_IP it stops the service', () => {
    const schema = z.object(advertiseSettings);
    const config = resolveAdvertiseUrl(loadConfig('test', schema, { ADVERTISE_URL: 'http://{pod-ip-dashed}.ab-elicitation-replicas.prod.svc:8702', POD_IP: '10.244.3.7' }));
    assert.equal(config.ADVERTISE_URL, 'http://10-244-3-7.ab-elicitation-replicas.prod.svc:8702');
    assert.throws(() => resolveAdvertiseUrl(loadConfig('test', schema, { ADVERTISE_URL: 'http://{pod-ip-dashed}.x.svc:8702' })), /POD_IP is not set/);
    assert.throws(() => loadConfig('test', schema, { ADVERTISE_URL: 'not a url' }), /ADVERTISE_URL must be a url such as/i);
  });
});
