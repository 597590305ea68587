import { NS_SASL, xml, type XmlElement } from '@ccs-xmpp/stream';
import { SASL_FAILURE_CONDITIONS, type SaslFailureCondition } from './errors.js';

/** The SASL namespace of RFC 6120 §6.4 (defined in the stream package). Every element this package reads or writes is in it. */
export { NS_SASL };

// A child built with xml() and no xmlns of its own has uri '' meaning "inherited"; a parsed child
// always has its resolved uri, and '' there only with an explicit xmlns="" (or in a parent that
// is itself in no namespace). Treating '' without an xmlns attribute as the parent's namespace is
// therefore exact for parsed elements and right for built ones.
function inNamespace(child: XmlElement, parentUri: string, uri: string): boolean {
  const own = child.uri !== '' ? child.uri : child.attr('xmlns') === '' ? '' : parentUri;
  return own === uri;
}

/**
 * The mechanism names a server offers in `<stream:features>` (RFC 6120 §6.4.1), in its order;
 * `undefined` when the features carry no `<mechanisms>` element at all.
 */
export function offeredMechanisms(features: XmlElement): string[] | undefined {
  let mechanisms: XmlElement | undefined;
  for (const child of features.getChildren('mechanisms')) {
    if (inNamespace(child, features.uri, NS_SASL)) {
      mechanisms = child;
      break;
    }
  }
  if (mechanisms === undefined) return undefined;
  const names: string[] = [];
  for (const m of mechanisms.getChildren('mechanism')) {
    if (!inNamespace(m, mechanisms.uri, NS_SASL)) continue;
    const name = m.text().trim();
    if (name !== '' && !names.includes(name)) names.push(name);
  }
  return names;
}

/** `<mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl">` with one `<mechanism>` per name. */
export function mechanismsElement(names: readonly string[]): XmlElement {
  return xml('mechanisms', { xmlns: NS_SASL }, ...names.map((n) => xml('mechanism', null, n)));
}

/** A SASL element with optional base64 character data (`<auth>`, `<challenge>`, …). */
export function saslElement(name: string, attrs: Record<string, string> | null, data?: string): XmlElement {
  return xml(name, { xmlns: NS_SASL, ...attrs }, data);
}

/** `<failure>` with a condition and an optional `<text xml:lang="en">` (RFC 6120 §6.4.5). */
export function failureElement(condition: SaslFailureCondition, text?: string): XmlElement {
  return xml(
    'failure',
    { xmlns: NS_SASL },
    xml(condition),
    text !== undefined && text !== '' && xml('text', { 'xml:lang': 'en' }, text),
  );
}

/**
 * Reads `<failure>`: its condition and `<text>`. A missing or unknown condition reads as
 * `not-authorized`: RFC 6120 §6.4.5 requires one of the §6.5 conditions, and the only safe
 * reading of a failure we cannot classify is "not authenticated".
 */
export function readFailure(el: XmlElement): { condition: SaslFailureCondition; text: string | undefined } {
  let condition: SaslFailureCondition | undefined;
  let text: string | undefined;
  for (const child of el.getChildren()) {
    if (!inNamespace(child, el.uri, NS_SASL)) continue;
    if (child.local === 'text') {
      if (text === undefined) text = child.text();
    } else if (condition === undefined && SASL_FAILURE_CONDITIONS.has(child.local as SaslFailureCondition)) {
      condition = child.local as SaslFailureCondition;
    }
  }
  return { condition: condition ?? 'not-authorized', text: text === '' ? undefined : text };
}
