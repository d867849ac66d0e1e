import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError } from '@agent-bridge/service-kit';
import { loadControllerConfig } from '../config.js';
import { channelsFromConfig } from './channels.js';
import { emailMessage } from './email.js';
import { checkNotices, emailAddressOf, noticeIdempotencyKey, type OwnerNotice } from './notice.js';
import { notifierOptions, smtpEndpoint } from './settings.js';
import { webhookBody } from './webhook.js';
import { retryDelayMs } from './worker.js';

const NOTICE: OwnerNotice = {
  milestone: 'deprecation:day-3',
  owner: { name: 'Ada', contact: 'ada@example.com', team: 'payments' },
  agents: ['pay-bot', 'refund-bot'],
  subject: 'Legacy polling is throttled from today',
  text: 'Calls to wait_for_messages now wait 100 ms.\n\nMove to elicitation.',
  deadline: '2027-01-15T00:00:00Z',
  links: { guide: 'https://bridge.example.com/guide' },
};
const BASE_ENV = { FEATURE_FLAGS_FILE: '/tmp/ff.yaml', ADMIN_TOKEN: 'a'.repeat(16), WEBHOOK_TOKEN: 'w'.repeat(16) };

describe('owner notice formats', () => {
  test('the JSON webhook body carries every field and the idempotency key; the chat body is one text with the owner and agents', () => {
    const key = noticeIdempotencyKey(NOTICE.milestone, 'Ada', 'webhook');
    assert.deepEqual(webhookBody(NOTICE, key, 'json'), { ...NOTICE, idempotencyKey: key });
    assert.deepEqual(webhookBody(NOTICE, key, 'chat'), {
      text: '*Legacy polling is throttled from today*\nCalls to wait_for_messages now wait 100 ms.\n\nMove to elicitation.\n\nOwner: Ada (team payments)\nAgents still on legacy (2): pay-bot, refund-bot\nDeadline: 2027-01-15T00:00:00Z\nguide: https://bridge.example.com/guide',
    });
    const many = { ...NOTICE, agents: Array.from({ length: 60 }, (_, i) => `bot-${i}`) };
    assert.match(String(webhookBody(many, key, 'chat').text), /Agents still on legacy \(60\): bot-0, .*bot-49 and 10 more/);
  });

  test('the idempotency key is one per milestone, owner and channel', () => {
    const key = noticeIdempotencyKey('m', 'Ada', 'email');
    assert.equal(key, noticeIdempotencyKey('m', 'Ada', 'email'));
    assert.notEqual(key, noticeIdempotencyKey('m', 'Ada', 'webhook'));
    assert.notEqual(key, noticeIdempotencyKey('m2', 'Ada', 'email'));
    assert.notEqual(key, noticeIdempotencyKey('m', 'Bob', 'email'));
  });

  test('an email has a Message-ID from the key in the From domain, plain text, and escaped HTML when asked', () => {
    const message = emailMessage({ ...NOTICE, text: 'Use <elicit> & more' }, 'ada@example.com', 'notice-abc', 'Agent Bridge <bridge@mail.example.org>', true);
    assert.equal(message.messageId, '<notice-abc@mail.example.org>');
    assert.equal(message.to, 'ada@example.com');
    assert.match(message.text, /^Use <elicit> & more\n\nOwner: Ada \(team payments\)/);
    assert.match(message.html!, /<p>Use &#60;elicit&#62; &#38; more<\/p>/);
    assert.doesNotMatch(message.html!, /<elicit>/);
    assert.equal(message.headers['X-Agent-Bridge-Milestone'], 'deprecation:day-3');
    assert.equal(emailMessage(NOTICE, 'a@b.example', 'k', 'bridge@example.com', false).html, undefined);
    assert.equal(emailMessage(NOTICE, 'a@b.example', 'k', 'bridge@example.com', false).messageId, '<k@example.com>');
  });

  test('only an email address (or mailto:) is an email contact', () => {
    assert.equal(emailAddressOf('ada@example.com'), 'ada@example.com');
    assert.equal(emailAddressOf('mailto:ada@example.com'), 'ada@example.com');
    for (const contact of [undefined, '', '@ada', 'ada', 'Ada <ada@example.com>', 'ada@localhost', 'a b@example.com']) assert.equal(emailAddressOf(contact), undefined, String(contact));
  });

  test('retries back off exponentially, capped, jittered to 50–100 %', () => {
    const policy = { baseDelayMs: 1_000, maxDelayMs: 5_000 };
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((n) => retryDelayMs(policy, n, () => 1)),
      [1_000, 2_000, 4_000, 5_000, 5_000],
    );
    assert.deepEqual(
      [1, 2, 3].map((n) => retryDelayMs(policy, n, () => 0)),
      [500, 1_000, 2_000],
    );
  });

  test('a notice the notifier refuses says which notice, which field and what it must be', () => {
    assert.throws(() => checkNotices([NOTICE, { ...NOTICE, owner: { name: 'Bob' }, deadline: 'next week' }]), {
      name: 'NoticeInputError',
      message: 'notice 1 (milestone deprecation:day-3, owner Bob): deadline must be an ISO date-time such as 2027-01-15T00:00:00Z',
    });
    assert.throws(() => checkNotices([{ ...NOTICE, agents: Array.from({ length: 1_001 }, (_, i) => `a${i}`) }]), /notice 0 .*agents must list at most 1000 agents/);
    assert.throws(() => checkNotices([{ ...NOTICE, subject: 'two\nlines' }]), /subject must be one line without control characters/);
    assert.throws(() => checkNotices([{ ...NOTICE, links: { guide: 'javascript:alert(1)' } }]), /links\.guide must be an http\(s\) URL/);
    assert.equal(checkNotices([NOTICE]).length, 1);
  });
});

describe('notification settings', () => {
  const load = (env: Record<string, string>) => loadControllerConfig({ ...BASE_ENV, ...env });

  test('none set: no channel, the defaults', () => {
    const config = load({});
    assert.deepEqual(channelsFromConfig(config), []);
    assert.deepEqual(notifierOptions(config), { retry: { maxAttempts: 8, baseDelayMs: 5_000, maxDelayMs: 600_000, timeoutMs: 10_000 }, limits: { maxOwners: 5_000, maxMilestones: 50, retentionSeconds: 90 * 86_400 } });
  });

  test('a webhook and SMTP configured: both channels, the SMTP URL taken apart', () => {
    const config = load({ NOTIFY_WEBHOOK_URL: 'https://hooks.example.com/x', NOTIFY_WEBHOOK_FORMAT: 'chat', SMTP_URL: 'smtps://bridge%40example.com@mail.example.com', SMTP_FROM: 'Agent Bridge <bridge@example.com>' });
    assert.deepEqual(
      channelsFromConfig(config).map((c) => c.name),
      ['webhook', 'email'],
    );
    assert.deepEqual(smtpEndpoint(config.SMTP_URL!), { host: 'mail.example.com', port: 465, secure: true, user: 'bridge@example.com' });
    assert.deepEqual(smtpEndpoint('smtp://127.0.0.1:2525'), { host: '127.0.0.1', port: 2525, secure: false });
  });

  test('bad settings stop the start with a sentence naming each, and never print an SMTP password', () => {
    const problems = (env: Record<string, string>) => {
      try {
        load(env);
      } catch (error) {
        assert.ok(error instanceof ConfigError);
        return error.message;
      }
      return assert.fail('expected a ConfigError');
    };
    const withPassword = problems({ SMTP_URL: 'smtp://bridge:hunter2-secret@mail.example.com:587', SMTP_FROM: 'bridge@example.com' });
    assert.match(withPassword, /SMTP_PASSWORD_FILE must hold the SMTP password: SMTP_URL must not carry one/);
    assert.doesNotMatch(withPassword, /hunter2/);
    assert.match(problems({ SMTP_URL: 'http://mail.example.com' }), /SMTP_URL must start with smtp:\/\/ \(STARTTLS when the server offers it\) or smtps:\/\/.*SMTP_FROM must be set when SMTP_URL is/i);
    assert.match(problems({ NOTIFY_WEBHOOK_URL: 'ftp://x.example.com' }), /NOTIFY_WEBHOOK_URL must be an http\(s\) URL/i);
    assert.match(problems({ NOTIFY_WEBHOOK_FORMAT: 'slack' }), /NOTIFY_WEBHOOK_FORMAT /);
    assert.match(problems({ SMTP_URL: 'smtp://mail.example.com', SMTP_FROM: 'not an address' }), /SMTP_FROM must be an address or "Name <address>"/i);
    assert.match(problems({ NOTIFY_BACKOFF_MS: '1000', NOTIFY_BACKOFF_MAX_MS: '500' }), /NOTIFY_BACKOFF_MAX_MS must be at least NOTIFY_BACKOFF_MS \(1000\)/i);
  });

  test('a token or password file that cannot be read stops the start naming the setting', () => {
    assert.throws(() => channelsFromConfig(load({ NOTIFY_WEBHOOK_URL: 'https://hooks.example.com/x', NOTIFY_WEBHOOK_TOKEN_FILE: '/nonexistent/token' })), /cannot read NOTIFY_WEBHOOK_TOKEN_FILE \/nonexistent\/token/);
    assert.throws(() => channelsFromConfig(load({ SMTP_URL: 'smtp://u@mail.example.com', SMTP_FROM: 'b@example.com', SMTP_PASSWORD_FILE: '/nonexistent/pw' })), /cannot read SMTP_PASSWORD_FILE \/nonexistent\/pw/);
  });
});
