import {
  nackRetryClass, normalizeNack, readDeviceGroupAck, type InboundMessage, type NackError as StanzaNack,
  type StanzaErrorMessage,
} from '@ccs-xmpp/stanza';
import type { CcsConnection, ConnectionSink } from './connection.js';
import { CcsError, quote } from './errors.js';

/**
 * One decoded message from an online connection, to the sink: one switch, one `Map` lookup. ACKs,
 * NACKs and stanza errors are matched to the connection's in-flight messages by `message_id` (a
 * match leaves the map); a `CONNECTION_DRAINING` NACK or control marks the connection draining;
 * what cannot be used is reported as `CCS_ERR_PROTOCOL`, never thrown.
 */
export function routeInbound(conn: CcsConnection, m: InboundMessage, sink: ConnectionSink): void {
  switch (m.kind) {
    case 'ack': {
      const out = conn.inflight.take(m.messageId);
      if (out === undefined) return stray(conn, sink, 'ACK', m.messageId);
      sink.onAck(conn, out, m.from, m.registrationId, readDeviceGroupAck(m.payload));
      return;
    }
    case 'nack': {
      const out = conn.inflight.take(m.messageId);
      if (out === undefined) {
        // PROTOCOL.md: a BAD_ACK answers one of our ACKs (its id is the upstream message's), a bug
        // on our side to report as such; it read as any stray NACK, its code and text left out.
        if (m.error.code === 'BAD_ACK') {
          return sink.onProtocolError(conn, new CcsError('CCS_ERR_PROTOCOL', `CCS refused our ACK of message_id ${quote(m.messageId)} on ${conn.id} (BAD_ACK): ${quote(m.error.description)}`));
        }
        return stray(conn, sink, `NACK (${codeSent(m.error)})`, m.messageId);
      }
      if (m.error.code === 'CONNECTION_DRAINING' && !conn.draining) {
        // The NACK can come before (or without) the control message: either way this connection
        // takes nothing more, or the retry would come straight back here.
        conn.draining = true;
        sink.onDraining(conn);
      }
      sink.onNack(conn, out, m.error, false);
      return;
    }
    case 'upstream':
      sink.onUpstream(conn, m);
      return;
    case 'receipt':
      sink.onReceipt(conn, m);
      return;
    case 'control':
      if (m.controlType === 'CONNECTION_DRAINING') {
        if (!conn.draining) {
          conn.draining = true;
          sink.onDraining(conn);
        }
      } else {
        sink.onProtocolError(conn, new CcsError('CCS_ERR_PROTOCOL', `unknown control_type ${quote(m.controlType)} on ${conn.id}`));
      }
      return;
    case 'stanzaError':
      onStanzaError(conn, m, sink);
      return;
    case 'unknown':
      sink.onProtocolError(conn, new CcsError('CCS_ERR_PROTOCOL', `ignored a message on ${conn.id}: ${m.reason}`));
      return;
    case 'invalid':
      sink.onProtocolError(conn, new CcsError('CCS_ERR_PROTOCOL', `ignored an undecodable message on ${conn.id}: ${m.error.message}`, { cause: m.error }));
      return;
  }
}

function onStanzaError(conn: CcsConnection, m: StanzaErrorMessage, sink: ConnectionSink): void {
  const id = m.messageId ?? m.stanzaId;
  const out = id === undefined ? undefined : conn.inflight.take(id);
  if (out === undefined || id === undefined) {
    sink.onProtocolError(conn, new CcsError('CCS_ERR_PROTOCOL', `stanza error <${m.condition}/> for no pending message (id ${id === undefined ? 'none' : quote(id)}) on ${conn.id}: ${quote(m.text)}`));
    return;
  }
  // The text is CCS's composite error (`InvalidJson: JSON_PARSING_ERROR : …`) when it gave one.
  const parsed = normalizeNack(m.text);
  let nack: StanzaNack = parsed;
  if (!parsed.known) {
    // No CCS code in the text: go by the XMPP error type. `wait` is transient (RFC 6120 §8.3.2);
    // anything else (`modify`, `cancel`, `auth`) will fail the same way again.
    const retry = m.type === 'wait' ? nackRetryClass('SERVICE_UNAVAILABLE') : 'never';
    nack = {
      code: m.type === 'wait' ? 'SERVICE_UNAVAILABLE' : 'INVALID_JSON',
      reason: m.condition,
      description: m.text === '' ? `stanza error <${m.condition}/>` : m.text,
      retry, known: false, raw: m.text,
    };
  }
  sink.onNack(conn, out, nack, true);
}

/**
 * A NACK's code as CCS sent it: the normalised code is `INTERNAL_SERVER_ERROR` for any code CCS does
 * not document (and for none at all), which a stray NACK's report named as if CCS had sent it.
 */
function codeSent(error: StanzaNack): string {
  if (error.known) return error.code;
  return error.raw === '' ? 'no error code' : `unknown code ${quote(error.raw)}`;
}

function stray(conn: CcsConnection, sink: ConnectionSink, what: string, id: string): void {
  sink.onProtocolError(conn, new CcsError('CCS_ERR_PROTOCOL', `${what} for unknown message_id ${quote(id)} on ${conn.id}`));
}
