export {
  SASL_FAILURE_CONDITIONS,
  FAILURE_CODES,
  SaslError,
  SaslFailureError,
  SaslAbortError,
  SaslNegotiationError,
  SaslProtocolError,
  SaslInputError,
  type SaslFailureCondition,
  type SaslErrorCode,
  type SaslErrorOptions,
} from './errors.js';
export { encodeSaslData, decodeSaslData } from './base64.js';
export type {
  SaslCredentials,
  ClientMechanism,
  ClientMechanismFactory,
  SaslIdentity,
  ServerStep,
  ServerMechanism,
  ServerMechanismFactory,
} from './mechanism.js';
export { MechanismRegistry, DEFAULT_MECHANISM_PREFERENCE } from './registry.js';
export {
  PLAIN,
  encodePlain,
  decodePlain,
  plainClient,
  plainServer,
  secretsEqual,
  type PlainMessage,
  type PlainAccount,
  type PlainServerOptions,
} from './plain.js';
export { NS_SASL, offeredMechanisms } from './sasl-elements.js';
export {
  ClientNegotiator,
  defaultClientMechanisms,
  type ClientNegotiatorOptions,
  type ClientNegotiatorState,
  type SaslSuccess,
} from './client-negotiator.js';
export {
  ServerNegotiator,
  type ServerNegotiatorOptions,
  type ServerNegotiatorSink,
  type ServerNegotiatorState,
  type SaslServerFailure,
} from './server-negotiator.js';
