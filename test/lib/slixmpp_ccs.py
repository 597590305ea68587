"""A CCS app server written with slixmpp (Debian's python3-slixmpp 1.8), for the interop suite.

Run with Debian's own interpreter (another python3 on PATH may not see Debian's packages):

    CCS_PASSWORD=KEY /usr/bin/python3 test/lib/slixmpp_ccs.py '<config JSON>'

Config (argv[1], JSON, no secrets: the password comes from the environment so that it never shows
in `ps`): {"port", "caFile", "authcid", "resource", "downstream": [{"message_id", "to", "data"}],
"upstreamExpected", "timeoutMs", "untilServerCloses"}.

It connects with direct TLS (CCS has no STARTTLS) to 127.0.0.1:port, verifying the emulator's
certificate against caFile for the name "localhost", authenticates with SASL PLAIN, binds, sends
the downstream messages, collects their ACKs/NACKs, ACKs every upstream message it receives, closes
the stream and prints ONE JSON line on stdout:
    {"ok", "jid", "auth", "acks", "nacks", "upstream", "other", "control", "iqAnswers", "closedByServer", "error"}
With "untilServerCloses" it does not close: it stays connected, doing nothing more, until the server
ends the stream (a drained connection: the emulator pings after CONNECTION_DRAINING and closes once
the ping is answered); "iqAnswers" are the IQ results and errors slixmpp wrote (how it answered).
Everything is bounded by timeoutMs; the exit code is 0 whenever the JSON line was printed.
SLIX_LOG=DEBUG in the environment logs slixmpp's SEND/RECV lines to stderr (they include the
base64 SASL payload: for debugging with the emulator's test key only).
"""

import asyncio
import json
import logging
import os
import socket
import sys
import xml.etree.ElementTree as ET

import slixmpp
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

NS_GCM = 'google:mobile:data'
DOMAIN = 'gcm.googleapis.com'
LOOPBACK = '127.0.0.1'

# Quiet by default: slixmpp logs to stderr (e.g. "Using slower stringprep"); stdout carries only the result.
logging.basicConfig(level=getattr(logging, os.environ.get('SLIX_LOG', 'ERROR')), stream=sys.stderr)

# Nothing here may leave the machine. slixmpp 1.8 resolves a name even when connect() is given an
# address (see CcsApp.get_dns_records); as a second line of defence refuse any lookup of a
# non-loopback name at the socket layer.
_getaddrinfo = socket.getaddrinfo


def _loopback_only_getaddrinfo(host, *args, **kwargs):
    if host not in (LOOPBACK, 'localhost', b'localhost', b'127.0.0.1', None):
        raise socket.gaierror(socket.EAI_NONAME, f'slixmpp_ccs: refusing to resolve {host!r} (loopback only)')
    return _getaddrinfo(LOOPBACK if host in ('localhost', b'localhost') else host, *args, **kwargs)


socket.getaddrinfo = _loopback_only_getaddrinfo


class CcsApp(slixmpp.ClientXMPP):
    def __init__(self, cfg, password):
        # The JID is the CCS one; SASL's authcid is set explicitly below, because slixmpp would send
        # the JID's localpart (RFC 6120 §6.3.8's "simple user name") and CCS wants SENDER@gcm.googleapis.com.
        super().__init__(f"{cfg['authcid'].split('@')[0]}@{DOMAIN}/{cfg.get('resource', 'slixmpp')}", password)
        self.credentials['username'] = cfg['authcid']
        self.cfg = cfg
        self.port = int(cfg['port'])
        self.result = {'ok': False, 'jid': None, 'auth': None, 'acks': [], 'nacks': [], 'upstream': [], 'other': [],
                       'control': [], 'iqAnswers': [], 'closedByServer': False, 'error': None}
        self.until_server_closes = bool(cfg.get('untilServerCloses', False))
        self.pending = {m['message_id'] for m in cfg.get('downstream', [])}
        self.upstream_expected = int(cfg.get('upstreamExpected', 0))
        self.done = asyncio.get_event_loop().create_future()
        # Direct TLS, verified: the emulator's CA, and the name "localhost" its certificate carries.
        self.ca_certs = cfg['caFile']
        self.use_ipv6 = False
        # The TLS server name. slixmpp takes it from `default_domain`, which connect() leaves empty
        # for an IP-literal address, and an empty server_hostname turns asyncio's hostname check off
        # (the chain is still verified). Name the host explicitly so the check stays on.
        self.default_domain = cfg.get('serverName', 'localhost')
        # The `message` event fires only for messages with a <body>: CCS payloads need their own handler.
        self.register_handler(Callback('ccs gcm', MatchXPath(f'{{{self.default_ns}}}message/{{{NS_GCM}}}gcm'), self.on_gcm))
        self.add_event_handler('session_start', self.on_session_start)
        self.add_event_handler('failed_auth', self.on_failed_auth)
        self.add_event_handler('no_auth', self.on_no_auth)
        self.add_event_handler('disconnected', self.on_disconnected)
        self.add_event_handler('connection_failed', self.on_connection_failed)
        # Right before serialisation: what slixmpp itself answers to IQs (with or without a plugin).
        self.add_filter('out_sync', self.on_out)

    async def get_dns_records(self, domain, port=None):
        # slixmpp 1.8 (XMLStream._connect_routine) resolves `default_domain` even when connect() got
        # an address; with an IP literal that name is '' (or, after see-other-host, any name). Pin
        # every resolution to the emulator's loopback address instead.
        return [(domain or 'localhost', LOOPBACK, self.port)]

    def finish(self, error=None):
        if error is not None and self.result['error'] is None:
            self.result['error'] = error
        if not self.done.done():
            self.done.set_result(None)

    def on_session_start(self, _event):
        self.result['jid'] = str(self.boundjid)
        self.result['auth'] = 'success'
        for m in self.cfg.get('downstream', []):
            payload = {'to': m['to'], 'message_id': m['message_id'], 'data': m.get('data', {})}
            self.send_gcm(m['message_id'], payload)
        self.check_done()

    def on_failed_auth(self, stanza):
        condition = None
        for child in stanza.xml:
            tag = child.tag.split('}')[-1]
            if tag != 'text':
                condition = tag
                break
        self.result['auth'] = 'failed'
        self.result['authCondition'] = condition

    def on_no_auth(self, _event):
        # Every offered mechanism slixmpp could use was tried and refused.
        self.result['auth'] = self.result['auth'] or 'failed'
        self.finish()

    def on_connection_failed(self, err):
        self.finish(f'connection failed: {err}')

    def on_out(self, stanza):
        if stanza.name == 'iq' and stanza['type'] in ('result', 'error'):
            condition = stanza['error']['condition'] if stanza['type'] == 'error' else None
            self.result['iqAnswers'].append({'id': stanza['id'], 'type': stanza['type'], 'condition': condition or None})
        return stanza

    def on_disconnected(self, reason):
        # slixmpp 1.8 sets this reason when the server's </stream:stream> arrives (and then drops the
        # connection without a closing tag of its own).
        if reason == 'End of stream':
            self.result['closedByServer'] = True
        self.finish(None if self.is_complete() or self.result['auth'] == 'failed' else f'disconnected early: {reason}')

    def send_gcm(self, stanza_id, payload):
        msg = self.Message()
        msg['id'] = stanza_id
        gcm = ET.SubElement(msg.xml, f'{{{NS_GCM}}}gcm')
        gcm.text = json.dumps(payload, ensure_ascii=False)
        msg.send()

    def on_gcm(self, msg):
        gcm = msg.xml.find(f'{{{NS_GCM}}}gcm')
        text = gcm.text if gcm is not None else None
        try:
            payload = json.loads(text or '')
        except ValueError:
            self.result['other'].append({'type': msg['type'], 'raw': text})
            return
        kind = payload.get('message_type')
        if kind == 'ack':
            self.result['acks'].append({k: payload.get(k) for k in ('message_id', 'from', 'registration_id') if k in payload})
            self.pending.discard(payload.get('message_id'))
        elif kind == 'nack':
            self.result['nacks'].append({k: payload.get(k) for k in ('message_id', 'from', 'error', 'error_description') if k in payload})
            self.pending.discard(payload.get('message_id'))
        elif kind == 'control':
            self.result['control'].append(payload.get('control_type'))
        elif kind is None and 'from' in payload and 'message_id' in payload:
            # Upstream from a device: ACK it (to = the device token, same message_id).
            self.result['upstream'].append({'message_id': payload['message_id'], 'from': payload['from'],
                                            'category': payload.get('category'), 'data': payload.get('data')})
            self.send_gcm(f"ack-{payload['message_id']}", {'to': payload['from'], 'message_id': payload['message_id'], 'message_type': 'ack'})
        else:
            self.result['other'].append({'type': msg['type'], 'payload': payload})
        self.check_done()

    def is_complete(self):
        work_done = self.result['auth'] == 'success' and not self.pending and len(self.result['upstream']) >= self.upstream_expected
        return work_done and (self.result['closedByServer'] or not self.until_server_closes)

    def check_done(self):
        if self.is_complete():
            self.finish()


async def main(cfg, password):
    app = CcsApp(cfg, password)
    timeout = cfg.get('timeoutMs', 8000) / 1000
    # use_ssl=True: TLS from the first byte (XEP-0368 direct TLS), as CCS; no STARTTLS to force.
    app.connect((LOOPBACK, app.port), use_ssl=True, force_starttls=False, disable_starttls=True)
    try:
        await asyncio.wait_for(app.done, timeout)
    except asyncio.TimeoutError:
        app.result['error'] = f'timed out after {timeout}s (pending downstream: {sorted(app.pending)}, upstream: {len(app.result["upstream"])}/{app.upstream_expected})'
    app.result['ok'] = app.result['error'] is None and app.is_complete() or (app.result['auth'] == 'failed' and cfg.get('expectAuthFailure', False))
    # A clean close: </stream:stream> goes after every ACK already queued, and slixmpp waits for
    # the server's closing tag (bounded).
    if app.transport is not None:
        try:
            await asyncio.wait_for(app.disconnect(wait=2.0), 3)
        except asyncio.TimeoutError:
            app.abort()
    return app.result


if __name__ == '__main__':
    config = json.loads(sys.argv[1])
    result = asyncio.get_event_loop().run_until_complete(main(config, os.environ.get('CCS_PASSWORD', '')))
    sys.stdout.write(json.dumps(result, ensure_ascii=False) + '\n')
    sys.stdout.flush()
