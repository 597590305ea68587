import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { XmlElement, serialize, xml } from '../src/index.js';

test('xml() splits a prefixed name, and takes the namespace only from the matching xmlns attribute', () => {
  const plain = xml('message');
  assert.equal([plain.name, plain.local, plain.prefix, plain.uri], ['message', 'message', '', '']);
  const prefixed = xml('stream:error', { xmlns: 'jabber:client' });
  assert.equal([prefixed.name, prefixed.local, prefixed.prefix, prefixed.uri], ['stream:error', 'error', 'stream', ''], 'xmlns is not the stream: prefix');
  const bound = xml('stream:error', { 'xmlns:stream': 'http://etherx.jabber.org/streams' });
  assert.is(bound.uri, 'http://etherx.jabber.org/streams');
  assert.is(xml('gcm', { 'xmlns:gcm': 'u' }).uri, '', 'xmlns:gcm does not bind an unprefixed name');
  const short = xml('a:b', { 'xmlns:a': 'u' });
  assert.equal([short.local, short.prefix, short.uri], ['b', 'a', 'u'], 'a one-letter prefix');
});

test('xml() writes attribute values as strings, skips undefined ones, and leaves attrs an ordinary mutable record', () => {
  const el = xml('iq', { id: 7, type: 'get', gone: undefined });
  assert.equal(el.attrs, { id: '7', type: 'get' });
  assert.equal(Object.keys(el.attrs), ['id', 'type']);
  el.attrs.id = '8';
  el.attrs.extra = 'x';
  delete el.attrs.type;
  assert.equal(el.attrs, { id: '8', extra: 'x' });
  assert.is(serialize(el), '<iq id="8" extra="x"/>');
});

test('xml() merges text only with text right before it', () => {
  const child = xml('c');
  const el = xml('p', null, 'a', child, 'b', 'c', '', child, false, 'd');
  assert.equal(el.children, ['a', child, 'bc', child, 'd']);
  assert.equal(xml('p', null, child, 'x').children, [child, 'x']);
  assert.equal(xml('p', null, '', child, '', 'y', '').children, [child, 'y'], 'an empty string is never a child');
  assert.equal(xml('p', null, '').children, []);
});

test('text() is the element\'s own character data: one string, joined strings, or empty', () => {
  assert.is(xml('p', null, 'only').text(), 'only');
  assert.is(xml('p', null, xml('c', null, 'inner')).text(), '', 'a lone child element has no text of its own');
  assert.is(new XmlElement('p', 'p', '', '', {}, [xml('c'), 'a', xml('d'), 'b']).text(), 'ab');
  assert.is(new XmlElement('p', 'p', '', '', {}, ['a', xml('d')]).text(), 'a');
});

test('getChild() and getChildren() skip text and match local name and namespace', () => {
  const a = xml('x', { xmlns: 'u1' });
  const b = xml('x', { xmlns: 'u2' });
  const el = new XmlElement('m', 'm', '', '', {}, ['text', xml('y', { xmlns: 'u1' }), a, b]);
  assert.is(el.getChild('x', 'u2'), b);
  assert.is(el.getChild('x'), a);
  assert.is(el.getChild('x', 'u3'), undefined);
  assert.is(el.getChild('text'), undefined, 'a string child is not an element');
  assert.equal(el.getChildren('x', 'u2'), [b]);
  assert.equal(el.getChildren(undefined, 'u1').map((c) => c.local), ['y', 'x']);
  assert.equal(el.getChildren('nothing'), []);
});

test.run();
