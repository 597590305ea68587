import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { XmlCharError, XmlElement, escapeAttr, escapeText, serialize, startTag, xml } from '../src/index.js';
import { HEADER, bytes, recorder } from './helpers.js';

test('escapes text: &, <, > and \\r, and leaves everything else alone', () => {
  assert.is(escapeText('plain {"json":1} é🎉'), 'plain {"json":1} é🎉');
  assert.is(escapeText('a<b&c>d]]>e\r'), 'a&lt;b&amp;c&gt;d]]&gt;e&#13;');
});

test('escapes attribute values for either quote style, whitespace controls as references', () => {
  assert.is(escapeAttr(`a"b'c<d&e>f\tg\nh\ri`), 'a&quot;b&apos;c&lt;d&amp;e&gt;f&#9;g&#10;h&#13;i');
  assert.is(escapeAttr('simple'), 'simple');
});

test('refuses characters XML 1.0 cannot carry with XmlCharError', () => {
  for (const bad of ['\u0000', '\u0001', '\u000B', '\uFFFE', '\uFFFF', '\uD800', 'x\uDC00']) {
    assert.throws(() => escapeText(bad), (e: XmlCharError) => e.code === 'STREAM_ERR_INVALID_XML_CHAR');
    assert.throws(() => escapeAttr(bad), (e: unknown) => e instanceof XmlCharError);
  }
  assert.is(escapeText('\uD83C\uDF89'), '🎉', 'a surrogate pair is fine');
});

test('escapes a value made only of special characters, and names the character it refuses', () => {
  assert.is(escapeText('<'), '&lt;');
  assert.is(escapeText('&>\r'), '&amp;&gt;&#13;');
  assert.is(escapeAttr('"'), '&quot;');
  assert.is(escapeAttr("'\t\n\r&<>"), '&apos;&#9;&#10;&#13;&amp;&lt;&gt;');
  assert.is(escapeText(''), '');
  assert.throws(() => escapeText('ok\u0001'), (e: XmlCharError) => e.name === 'XmlCharError' && e.message === 'text contains U+0001, which XML 1.0 cannot carry');
  assert.throws(() => escapeAttr('\uFFFE'), (e: XmlCharError) => e.message === 'attribute value contains U+FFFE, which XML 1.0 cannot carry');
  assert.throws(() => escapeAttr('a\uDBFFb'), (e: XmlCharError) => e.message === 'attribute value contains U+DBFF, which XML 1.0 cannot carry');
  for (const ok of ['\t', '\n', '\r', '\u0020', '\uD7FF', '\uE000', '\uFFFD', '\uDBFF\uDFFF']) assert.not.throws(() => escapeText(ok), JSON.stringify(ok));
  for (const bad of ['\u0008', '\u000C', '\u000E', '\u001F', '\uDBFF', '\uDFFF', '\uDFFF\uD800']) assert.throws(() => escapeText(bad), JSON.stringify(bad));
});

test('serializes elements self-closed when empty, with attributes and nested children', () => {
  const el = xml('iq', { type: 'set', id: 'b1', skip: undefined }, xml('bind', { xmlns: 'urn:ietf:params:xml:ns:xmpp-bind' }, xml('resource', null, 'r&d')));
  assert.is(serialize(el), '<iq type="set" id="b1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><resource>r&amp;d</resource></bind></iq>');
  assert.is(serialize(xml('presence')), '<presence/>');
  assert.is(startTag('stream:stream', { to: 'a"b' }), '<stream:stream to="a&quot;b">');
});

test('xml() resolves the namespace from xmlns attributes, merges adjacent text and skips empties', () => {
  const el = xml('data:gcm', { 'xmlns:data': 'google:mobile:data' }, 'a', '', null, false, undefined, 'b');
  assert.is(el.uri, 'google:mobile:data');
  assert.is(el.local, 'gcm');
  assert.is(el.prefix, 'data');
  assert.equal(el.children, ['ab']);
  assert.is(xml('x', { __proto__: 'p' } as Record<string, string>).attr('__proto__'), undefined);
  const proto = xml('x', JSON.parse('{"__proto__":"p"}') as Record<string, string>);
  assert.is(proto.attr('__proto__'), 'p', '__proto__ is an ordinary attribute name');
  assert.is(Object.getPrototypeOf(proto.attrs), Object.prototype);
});

test('XmlElement readers: attr, getChild, getChildren, text', () => {
  const el = new XmlElement('m', 'm', '', 'jabber:client', { id: '1' }, [
    'a',
    xml('x', { xmlns: 'u1' }),
    xml('y', { xmlns: 'u2' }),
    'b',
    xml('x', { xmlns: 'u2' }),
  ]);
  assert.is(el.attr('id'), '1');
  assert.is(el.attr('toString'), undefined, 'inherited properties are not attributes');
  assert.is(el.getChild('x')?.uri, 'u1');
  assert.is(el.getChild('x', 'u2')?.uri, 'u2');
  assert.is(el.getChild('z'), undefined);
  assert.is(el.getChildren().length, 3);
  assert.is(el.getChildren('x').length, 2);
  assert.is(el.getChildren(undefined, 'u2').length, 2);
  assert.is(el.text(), 'ab');
  assert.is(xml('e').text(), '');
});

test('what serialize() writes, the parser reads back as the same element', () => {
  const original = xml('message', { id: `q"'<&>\t\n` }, xml('gcm', { xmlns: 'google:mobile:data' }, '{"x":"]]> < & \r\n 🎉"}'));
  const r = recorder();
  r.parser.write(bytes(HEADER + serialize(original)));
  const got = r.elements[0];
  assert.ok(got);
  assert.is(got.attr('id'), original.attr('id'));
  assert.is(got.getChild('gcm')?.text(), original.getChild('gcm')?.text());
});

test.run();
