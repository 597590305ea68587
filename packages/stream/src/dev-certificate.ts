import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { isIPv4 } from 'node:net';

/** A self-signed certificate and its key, PEM-encoded. */
export interface DevCertificate {
  /** The certificate; also what a client passes as `ca` to trust it. */
  cert: string;
  /** The private key (PKCS#8). */
  key: string;
}

/** What the development certificate is issued for. */
export interface DevCertificateOptions {
  /** Subject common name. Default `localhost`. */
  commonName?: string;
  /** DNS names for subjectAltName. Default `[commonName, 'localhost']`. */
  dnsNames?: string[];
  /** IPv4 addresses for subjectAltName. Default `['127.0.0.1']`. */
  ipAddresses?: string[];
  /** Validity in days from one hour ago. Default 30. */
  days?: number;
}

// Minimal DER (X.690) encoding: just the types an X.509 v3 certificate needs.
function der(tag: number, body: Buffer): Buffer {
  const len = body.length;
  let head: Buffer;
  if (len < 0x80) head = Buffer.from([tag, len]);
  else if (len < 0x100) head = Buffer.from([tag, 0x81, len]);
  else if (len < 0x10000) head = Buffer.from([tag, 0x82, len >> 8, len & 0xff]);
  else throw new RangeError('DER element too long');
  return Buffer.concat([head, body]);
}
const seq = (...items: Buffer[]): Buffer => der(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => der(0x31, Buffer.concat(items));
function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const bytes: number[] = [40 * (parts[0] as number) + (parts[1] as number)];
  for (const p of parts.slice(2)) {
    const stack = [p & 0x7f];
    for (let v = p >>> 7; v > 0; v >>>= 7) stack.unshift((v & 0x7f) | 0x80);
    bytes.push(...stack);
  }
  return der(0x06, Buffer.from(bytes));
}
function utcTime(d: Date): Buffer {
  const s = d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
  return der(0x17, Buffer.from(s));
}
function name(cn: string): Buffer {
  return seq(set(seq(oid('2.5.4.3'), der(0x0c, Buffer.from(cn)))));
}

/**
 * Generates a self-signed ECDSA P-256 certificate for local development and tests, entirely in
 * process (no `openssl` binary, nothing fetched). It is its own CA: pass `cert` as the client's
 * `ca`. Never use it in production.
 */
export function generateDevCertificate(options: DevCertificateOptions = {}): DevCertificate {
  const commonName = options.commonName ?? 'localhost';
  const dnsNames = options.dnsNames ?? [...new Set([commonName, 'localhost'])];
  const ips = options.ipAddresses ?? ['127.0.0.1'];
  const days = options.days ?? 30;
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const serial = randomBytes(16);
  // A positive INTEGER in minimal DER: high bit clear (else it reads as negative) and the first
  // byte non-zero (else the encoding is not minimal and OpenSSL rejects the certificate).
  serial[0] = ((serial[0] as number) & 0x7f) | 0x40;
  const notBefore = new Date(Date.now() - 3600_000);
  const notAfter = new Date(notBefore.getTime() + days * 86_400_000);
  const ecdsaSha256 = seq(oid('1.2.840.10045.4.3.2'));

  const altNames = Buffer.concat([
    ...dnsNames.map((n) => der(0x82, Buffer.from(n, 'ascii'))),
    ...ips.filter((ip) => isIPv4(ip)).map((ip) => der(0x87, Buffer.from(ip.split('.').map(Number)))),
  ]);
  const extensions = der(
    0xa3,
    seq(
      seq(oid('2.5.29.19'), der(0x01, Buffer.from([0xff])), der(0x04, seq(der(0x01, Buffer.from([0xff]))))),
      // keyUsage: digitalSignature, keyCertSign
      seq(oid('2.5.29.15'), der(0x01, Buffer.from([0xff])), der(0x04, der(0x03, Buffer.from([0x02, 0x84])))),
      // extKeyUsage: serverAuth, clientAuth
      seq(oid('2.5.29.37'), der(0x04, seq(oid('1.3.6.1.5.5.7.3.1'), oid('1.3.6.1.5.5.7.3.2')))),
      seq(oid('2.5.29.17'), der(0x04, der(0x30, altNames))),
    ),
  );
  const tbs = seq(
    der(0xa0, der(0x02, Buffer.from([2]))),
    der(0x02, serial),
    ecdsaSha256,
    name(commonName),
    seq(utcTime(notBefore), utcTime(notAfter)),
    name(commonName),
    spki,
    extensions,
  );
  const signature = sign('sha256', tbs, privateKey);
  const certDer = seq(tbs, ecdsaSha256, der(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const b64 = certDer.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return {
    cert: `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`,
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
  };
}
