import { X509Certificate, createPrivateKey } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateDevCertificate } from '../src/index.js';

test('generates a self-signed certificate for localhost and 127.0.0.1 that verifies with its own key', () => {
  const { cert, key } = generateDevCertificate();
  const x509 = new X509Certificate(cert);
  assert.ok(x509.ca, 'it is its own CA, so clients can pass it as ca');
  assert.ok(x509.checkHost('localhost'));
  assert.ok(x509.checkIP('127.0.0.1'));
  assert.ok(x509.verify(x509.publicKey), 'self-signed');
  assert.ok(x509.checkPrivateKey(createPrivateKey(key)));
  assert.ok(new Date(x509.validTo).getTime() > Date.now() + 29 * 86_400_000);
});

test('takes a common name, extra DNS names and a validity period', () => {
  const { cert } = generateDevCertificate({ commonName: 'ccs.test', dnsNames: ['ccs.test', 'gcm.googleapis.com'], ipAddresses: [], days: 1 });
  const x509 = new X509Certificate(cert);
  assert.match(x509.subject, /CN=ccs.test/);
  assert.ok(x509.checkHost('gcm.googleapis.com'));
  assert.not.ok(x509.checkHost('localhost'));
  assert.not.ok(x509.checkIP('127.0.0.1'));
  assert.ok(new Date(x509.validTo).getTime() < Date.now() + 2 * 86_400_000);
});

test('the defaults: CN and DNS name localhost, IP 127.0.0.1; a common name is added to localhost; IPv6 is left out', () => {
  const x509 = new X509Certificate(generateDevCertificate().cert);
  assert.is(x509.subject, 'CN=localhost');
  assert.is(x509.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1');
  // Extended key usage: serverAuth and clientAuth (the emulator's certificate serves both ends).
  assert.equal(x509.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
  const named = new X509Certificate(generateDevCertificate({ commonName: 'ccs.test', ipAddresses: ['127.0.0.1', '::1', '10.0.0.2'] }).cert);
  assert.is(named.subjectAltName, 'DNS:ccs.test, DNS:localhost, IP Address:127.0.0.1, IP Address:10.0.0.2');
});

test('the PEM is RFC 7468 strict: base64 lines of exactly 64 characters, the last one shorter or equal, no blank line', () => {
  // At least 60 consecutive name lengths: the DER length takes every value modulo 48, so some
  // certificates end their base64 exactly on a line boundary. The ECDSA signature's length varies
  // by a byte or two with each key, so one pass over 60 lengths can miss that boundary; the loop
  // goes on (bounded) until a certificate met it.
  const pem = /^-----BEGIN CERTIFICATE-----\n((?:[A-Za-z0-9+/]{64}\n)*[A-Za-z0-9+/=]{1,64})\n-----END CERTIFICATE-----\n$/;
  let fullLast = 0;
  for (let n = 1; n <= 60 || (fullLast === 0 && n <= 960); n++) {
    const { cert } = generateDevCertificate({ commonName: 'x'.repeat(n) });
    const m = pem.exec(cert);
    assert.ok(m, `n=${n}: ${JSON.stringify(cert.slice(-120))}`);
    if (m[1]?.split('\n').at(-1)?.length === 64) fullLast++;
  }
  assert.ok(fullLast > 0, 'a base64 body that fills its last line was met');
});

/**
 * Walks DER (X.690 §10): each length in its shortest form, each constructed value exactly filled by
 * its children. Returns the primitive values met, in order. Strict verifiers (Go's crypto/x509,
 * BoringSSL) refuse a certificate that is merely BER.
 */
function walkDer(buf: Buffer, start = 0, end = buf.length, out: Buffer[] = []): Buffer[] {
  let i = start;
  while (i < end) {
    const tag = buf[i] as number;
    const first = buf[i + 1] as number;
    let len = first;
    let head = 2;
    if (first >= 0x80) {
      const n = first & 0x7f;
      assert.ok(n === 1 || n === 2, `length of length ${n} at ${i}`);
      len = n === 1 ? (buf[i + 2] as number) : buf.readUInt16BE(i + 2);
      assert.ok(len >= (n === 1 ? 0x80 : 0x100), `length ${len} at ${i} is not in its shortest form`);
      head += n;
    }
    assert.ok(i + head + len <= end, `value at ${i} runs past its container`);
    if (tag & 0x20) walkDer(buf, i + head, i + head + len, out);
    else out.push(buf.subarray(i + head, i + head + len));
    i += head + len;
  }
  assert.is(i, end, 'the values fill their container exactly');
  return out;
}

function derOf(cert: string): Buffer {
  return Buffer.from(cert.replace(/-----[^-]+-----|\s/g, ''), 'base64');
}

test('the certificate is strict DER, each length in its shortest form on both sides of each form\'s limit', () => {
  // A common name of n bytes is a UTF8String of length n: 127/128 and 255/256 straddle the short,
  // one-byte and two-byte length forms.
  for (const n of [1, 127, 128, 200, 255, 256, 1000]) {
    const commonName = 'a'.repeat(n);
    const { cert } = generateDevCertificate({ commonName });
    const der = derOf(cert);
    const values = walkDer(der);
    assert.ok(values.some((v) => v.toString('utf8') === commonName), `n=${n}: the name is one value`);
    const x509 = new X509Certificate(cert);
    assert.is(x509.subject, `CN=${commonName}`);
    assert.ok(x509.verify(x509.publicKey));
  }
});

test('a certificate too large for two-byte DER lengths is refused with a RangeError, never written wrong', () => {
  // Names of 64 KiB and more cannot be written with the encoder's length forms.
  assert.throws(() => generateDevCertificate({ commonName: 'a'.repeat(0x10000) }), (e: unknown) => e instanceof RangeError && e.message === 'DER element too long');
  // Around the limit of the whole certificate (a DNS name of p bytes makes it about p + 400 bytes;
  // the signature varies by a byte or two): each size gives either a certificate that parses with
  // every name, or that RangeError.
  let made = 0;
  let refused = 0;
  for (let pass = 0; pass < 3; pass++) {
    for (let p = 65_120; p < 65_160; p++) {
      const big = 'b'.repeat(p);
      let cert: string;
      try {
        cert = generateDevCertificate({ dnsNames: ['localhost', big], ipAddresses: [] }).cert;
      } catch (e) {
        assert.instance(e, RangeError);
        refused++;
        continue;
      }
      walkDer(derOf(cert));
      const x509 = new X509Certificate(cert);
      assert.ok(x509.checkHost('localhost') && x509.subjectAltName?.endsWith(`DNS:${big}`), `p=${p}`);
      made++;
    }
  }
  assert.ok(made > 0 && refused > 0, `both sides of the limit were reached (${made} made, ${refused} refused)`);
});

test.run();
