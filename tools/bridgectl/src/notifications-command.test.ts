/** bridgectl notifications renders the ledger summary a person reads: counts per channel, each owner's state. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderNotifications, type NotificationSummary } from './notifications-command.js';

const SUMMARY: NotificationSummary = {
  channels: ['webhook', 'email'],
  milestones: [
    {
      milestone: 'deprecation:day-5',
      recordedAt: '2026-12-03T10:00:00.000Z',
      owners: 2,
      channels: { webhook: { pending: 0, sending: 0, sent: 2, skipped: 0, failed: 0 }, email: { pending: 1, sending: 0, sent: 0, skipped: 1, failed: 0 } },
      notices: [
        {
          owner: 'Ada',
          team: 'payments',
          contact: 'ada@example.com',
          agents: 2,
          channels: {
            webhook: { state: 'sent', attempts: 1, updatedAt: '2026-12-03T10:00:01.000Z', sentAt: '2026-12-03T10:00:01.000Z' },
            email: { state: 'pending', attempts: 2, updatedAt: '2026-12-03T10:00:05.000Z', nextAttemptAt: '2026-12-03T10:00:15.000Z', lastError: 'SMTP 127.0.0.1:25: connect ECONNREFUSED' },
          },
        },
        { owner: 'Carol', agents: 1, channels: { email: { state: 'skipped', attempts: 0, updatedAt: '2026-12-03T10:00:00.000Z', detail: 'the owner has no email contact' } } },
      ],
    },
  ],
};

test('bridgectl notifications shows each channel’s counts and each owner’s state, next attempt and last error', () => {
  assert.equal(
    renderNotifications(SUMMARY, 'deprecation:day-5'),
    `channels configured: webhook, email

deprecation:day-5  (2 owners, first recorded 2026-12-03T10:00:00.000Z)
  webhook  2 sent, 0 pending, 0 sending, 0 skipped, 0 failed
  email    0 sent, 1 pending, 0 sending, 1 skipped, 0 failed
  Ada (team payments) <ada@example.com>, 2 agents
    webhook  SENT at 2026-12-03T10:00:01.000Z, 1 attempt
    email    PENDING, next attempt 2026-12-03T10:00:15.000Z, 2 attempts (last error: SMTP 127.0.0.1:25: connect ECONNREFUSED)
  Carol, 1 agent
    email    SKIPPED, 0 attempts: the owner has no email contact
`,
  );
});

test('with no channel configured it says the notices are recorded, not sent, and how to configure one', () => {
  assert.match(renderNotifications({ channels: [], milestones: [] }, undefined), /^channels configured: none \(notices are recorded, not sent: set NOTIFY_WEBHOOK_URL or SMTP_URL\)\nno notices recorded yet\n$/);
});
