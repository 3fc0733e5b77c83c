// Interop with @sd-jwt/sd-jwt-vc + @sd-jwt/crypto-nodejs 0.19.0 (the second implementation).
// Reads one JSON object on stdin, writes one JSON object on stdout; no network, no files.
//   in:  {issuer_jwk, credential, presentation, aud, nonce, now}
//   out: {credential: {ok, claims|error}, presentation: {ok, claims, kb|error},
//         theirs: {token, issuer_jwk, aud, nonce}}
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { ES256, digest, generateSalt } from '@sd-jwt/crypto-nodejs';

const read = async () => {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return JSON.parse(text);
};

const publicOnly = (jwk) => ({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y });

const verifierFor = async (issuerJwk, holderJwk) =>
  new SDJwtVcInstance({
    hasher: digest,
    hashAlg: 'sha-256',
    verifier: await ES256.getVerifier(publicOnly(issuerJwk)),
    kbVerifier: async (data, sig, payload) => {
      const jwk = holderJwk ?? payload.cnf.jwk;
      return (await ES256.getVerifier(publicOnly(jwk)))(data, sig);
    },
    loadTypeMetadataFormat: false,
  });

const attempt = async (fn) => {
  try {
    return { ok: true, ...(await fn()) };
  } catch (error) {
    return { ok: false, error: String(error && error.message ? error.message : error) };
  }
};

const main = async () => {
  const input = await read();
  const ours = await verifierFor(input.issuer_jwk);
  const credential = await attempt(async () => {
    const result = await ours.verify(input.credential, { currentDate: input.now });
    return { claims: result.payload };
  });
  const presentation = await attempt(async () => {
    const result = await ours.verify(input.presentation, {
      currentDate: input.now,
      keyBindingNonce: input.nonce,
      requireKeyBindings: true,
    });
    return { claims: result.payload, kb: result.kb ? result.kb.payload : null };
  });

  // Theirs: an SD-JWT VC with decoys in objects and arrays, presented with a KB-JWT.
  const issuer = await ES256.generateKeyPair();
  const holder = await ES256.generateKeyPair();
  const sdjwt = new SDJwtVcInstance({
    hasher: digest,
    hashAlg: 'sha-256',
    saltGenerator: generateSalt,
    signer: await ES256.getSigner(issuer.privateKey),
    signAlg: ES256.alg,
    kbSigner: await ES256.getSigner(holder.privateKey),
    kbSignAlg: ES256.alg,
    loadTypeMetadataFormat: false,
  });
  const claims = {
    iss: 'https://issuer.example',
    iat: input.now - 10,
    exp: input.now + 3600,
    vct: 'urn:civiccert:vct:interop:1',
    cnf: { jwk: publicOnly(holder.publicKey) },
    name: '山田花子',
    birth_date: '1982-02-02',
    address: { locality: '松戸市', street: '小根本7番地の8' },
    nationalities: ['JP', 'US'],
  };
  const frame = {
    _sd: ['name', 'birth_date', 'address'],
    _sd_decoy: 2,
    address: { _sd: ['street'], _sd_decoy: 1 },
    nationalities: { _sd: [0, 1], _sd_decoy: 2 },
  };
  const issued = await sdjwt.issue(claims, frame);
  const presented = await sdjwt.present(
    issued,
    { name: true, address: { street: true }, nationalities: { 1: true } },
    { kb: { payload: { iat: input.now, aud: input.aud, nonce: input.nonce } } },
  );
  process.stdout.write(
    JSON.stringify({
      credential,
      presentation,
      theirs: { token: presented, issued, issuer_jwk: publicOnly(issuer.publicKey), aud: input.aud, nonce: input.nonce },
    }),
  );
};

main().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error));
  process.exit(1);
});
