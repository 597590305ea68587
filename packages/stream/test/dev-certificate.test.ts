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

test.run();
