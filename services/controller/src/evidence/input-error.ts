/** Input the A/B test statistics cannot judge: a sentence naming the group and the value. */
export class EvidenceInputError extends Error {
  readonly code = 'EVIDENCE_BAD_INPUT';
  override readonly name = 'EvidenceInputError';
}
