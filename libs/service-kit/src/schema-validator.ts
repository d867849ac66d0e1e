import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { JsonSchemaType, JsonSchemaValidator, jsonSchemaValidator } from '@modelcontextprotocol/server';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/**
 * The JSON Schema validator the MCP servers use to check elicitation answers, with compiled
 * validators cached by schema *content*. The SDK's default compiles the requested schema on every
 * `elicitInput` (each push carries a freshly parsed schema object), which cost about a fifth of the
 * elicitation service's CPU — and Ajv keeps every compiled schema keyed by object, so memory grew
 * with every push. Here each distinct schema is compiled once, at most `capacity` are kept, and an
 * evicted one is removed from Ajv too.
 */
export class CachedSchemaValidator implements jsonSchemaValidator {
  private readonly ajv: Ajv;
  private readonly cache = new Map<string, { schema: object; validate: ValidateFunction }>();

  constructor(private readonly capacity = 256) {
    this.ajv = new Ajv({ strict: false, validateFormats: true, validateSchema: false, allErrors: true });
    addFormats(this.ajv);
  }

  getValidator<T>(schema: JsonSchemaType): JsonSchemaValidator<T> {
    const validate = this.compiled(schema as object);
    return (input) => {
      if (validate(input)) return { valid: true, data: input as T, errorMessage: undefined };
      return { valid: false, data: undefined, errorMessage: this.ajv.errorsText(validate.errors) };
    };
  }

  get size(): number {
    return this.cache.size;
  }

  private compiled(schema: object): ValidateFunction {
    const key = JSON.stringify(schema);
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit); // most recently used last
      return hit.validate;
    }
    const entry = { schema, validate: this.ajv.compile(schema) };
    this.cache.set(key, entry);
    if (this.cache.size > this.capacity) {
      const [oldestKey, oldest] = this.cache.entries().next().value as [string, { schema: object }];
      this.cache.delete(oldestKey);
      this.ajv.removeSchema(oldest.schema);
    }
    return entry.validate;
  }
}
