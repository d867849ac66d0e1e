export interface FlagsErrorOptions {
  cause?: unknown;
  /** One line per problem, each naming the field path and what is expected. */
  issues?: readonly string[];
}

/**
 * An error of the flags package, identified by a stable `code`:
 * - FLAGS_INVALID: a snapshot, settings object, flag file or flag value failed validation;
 * - FLAGS_FILE_SYNTAX: a flag file is not well-formed YAML;
 * - FLAGS_UNKNOWN_FLAG: a flag assignment named a flag that does not exist;
 * - FLAGS_CONFLICT: the snapshot kept changing under a publisher;
 * - FLAGS_FENCED: a controller that lost its lease tried to publish.
 */
export class FlagsError extends Error {
  override readonly name = 'FlagsError';
  readonly code: string;
  readonly issues: readonly string[];

  constructor(code: string, message: string, options: FlagsErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.issues = Object.freeze([...(options.issues ?? [])]);
  }
}
