export * from './keys.js';
export * from './errors.js';
export * from './deadline.js';
export * from './connection.js';
export * from './doorbell.js';
export * from './types.js';
export * from './store.js';
export * from './open.js';
export * from './durability.js';
export * from './reshard.js';

export * from './entry-codec.js';
export * from './lease-keeper.js';
export * from './leased-consumer.js';
