// @sd-jwt/sd-jwt-vc 0.19.0 verifying a civiccert SD-JWT VC with the issuer key taken from its x5c header:
// Node's own X.509 parser reads the leaf (x5c[0]) and checks it is signed by x5c[1]; no civiccert code.
//   in:  {credential, presentation, nonce, statusLists: {uri: status list JWT}} (the lists the city published:
//        @sd-jwt checks the credential's status through them; nothing is fetched from the network)
//   out: {credential: {ok|error}, presentation: {ok|error}, subject}
import { X509Certificate } from 'node:crypto';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { ES256, digest } from '@sd-jwt/crypto-nodejs';

const read = async () => {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return JSON.parse(text);
};

const attempt = async (fn) => {
  try {
    await fn();
    return { ok: true };
  } catch (error) {
    return { ok: false, error: String(error && error.message ? error.message : error) };
  }
};

const main = async () => {
  const input = await read();
  const header = JSON.parse(Buffer.from(input.credential.split('.')[0], 'base64url').toString('utf8'));
  const [leaf, intermediate] = header.x5c.map((b64) => new X509Certificate(Buffer.from(b64, 'base64')));
  if (intermediate && !leaf.verify(intermediate.publicKey)) throw new Error('x5c[0] is not signed by x5c[1]');
  const jwk = leaf.publicKey.export({ format: 'jwk' });
  const sdjwt = new SDJwtVcInstance({
    hasher: digest,
    hashAlg: 'sha-256',
    verifier: await ES256.getVerifier(jwk),
    kbVerifier: async (data, sig, payload) => (await ES256.getVerifier(payload.cnf.jwk))(data, sig),
    loadTypeMetadataFormat: false,
    statusListFetcher: async (uri) => {
      if (!(uri in input.statusLists)) throw new Error(`no status list published at ${uri}`);
      return input.statusLists[uri];
    },
  });
  const credential = await attempt(() => sdjwt.verify(input.credential));
  const presentation = await attempt(() =>
    sdjwt.verify(input.presentation, { keyBindingNonce: input.nonce, requireKeyBindings: true }));
  process.stdout.write(JSON.stringify({ credential, presentation, subject: leaf.subject }));
};

main();
